// The agent's link to the control plane, for an agent with a `control` section: the Connect
// stream (control-client.ts), the reports it sends (every control.reportInterval, and at once,
// at most one per 100 ms, on a breaker transition or an ejection), and the snapshots it hands
// to whoever applies them. Loaded only by agents that have a control plane, so one without
// never holds grpc-js's channel machinery.
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Clock, Random, TimerHandle } from '../clock.ts';
import type { ControlConfig } from '../config/types.ts';
import { ControlClient, type ApplyVerdict } from '../control/control-client.ts';
import type { Hello, PolicySnapshot } from '../control/control-proto.ts';
import { ControlReports, REPORTED_DECISIONS, type ReportSource } from './control-report.ts';

/** Reports on breaker transitions and ejections go out at most this often. */
export const REPORT_DEBOUNCE_MS = 100;

export interface ControlRuntimeOptions {
  readonly control: ControlConfig;
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
  readonly source: ReportSource;
  hello(): Hello;
  apply(snapshot: PolicySnapshot): Promise<ApplyVerdict>;
}

export class ControlRuntime {
  private readonly client: ControlClient;
  private readonly reports: ControlReports;
  private readonly interval: TimerHandle;
  private readonly unsubscribe: () => void;
  private lastReportAt = Number.NEGATIVE_INFINITY;
  private soon: TimerHandle | undefined;

  constructor(private readonly options: ControlRuntimeOptions) {
    const { control, clock } = options;
    this.reports = new ControlReports(options.source, Date.now);
    this.client = new ControlClient({
      addresses: control.address.map((replica) => replica.text),
      ...(control.token !== undefined ? { token: control.token } : {}),
      credentials: channelCredentials(control),
      clock,
      random: options.random,
      logger: options.logger,
      hello: options.hello,
      apply: options.apply,
      onConnected: () => this.sendReport(),
    });
    this.interval = clock.setInterval(() => this.sendReport(), control.reportInterval);
    this.interval.unref();
    this.unsubscribe = options.source.decisions.subscribe((decision) => {
      if (REPORTED_DECISIONS.has(decision.kind)) this.reportSoon();
    });
    this.client.start();
  }

  get connected(): boolean {
    return this.client.connected;
  }

  stop(): void {
    this.unsubscribe();
    this.options.clock.clearInterval(this.interval);
    if (this.soon) this.options.clock.clearTimeout(this.soon);
    this.reports.close();
    this.client.stop();
  }

  /** Never from inside the decision itself (a request may be mid-way): on a timer, debounced. */
  private reportSoon(): void {
    if (this.soon) return;
    const wait = Math.max(0, this.lastReportAt + REPORT_DEBOUNCE_MS - this.options.clock.now());
    this.soon = this.options.clock.setTimeout(() => {
      this.soon = undefined;
      this.sendReport();
    }, wait);
  }

  private sendReport(): void {
    if (!this.client.connected) return;
    this.lastReportAt = this.options.clock.now();
    this.client.report(this.reports.build());
  }
}

/** Plain TCP without a tls section; with one, TLS with its CA (else the system's roots) and, with cert and key, mTLS. */
function channelCredentials(control: ControlConfig): grpc.ChannelCredentials {
  const { tls } = control;
  if (tls === undefined) return grpc.credentials.createInsecure();
  const read = (path: string | undefined): Buffer | null => (path === undefined ? null : readFileSync(path));
  return grpc.credentials.createSsl(read(tls.ca), read(tls.key), read(tls.cert));
}
