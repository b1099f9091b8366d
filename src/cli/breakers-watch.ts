// `meshlet breakers --watch`: the open and half-open breakers now, then one line per breaker
// change WatchMesh streams, until Ctrl-C. A control plane that goes away or restarts does not
// end the watch: it says so on stderr, opens the stream again on a fresh channel after a
// full-jitter backoff (250 ms doubling to 5 s), and once back reads every agent's breakers again
// and prints each one whose state differs from what it last printed, so a change during the
// outage is not lost. Only `--reconnect-for` without success (or Ctrl-C) ends it.
import * as grpc from '@grpc/grpc-js';
import { formatDuration } from '../config/duration.ts';
import type { AgentStatus, BreakerReport, MeshEvent } from '../control/control-proto.ts';
import { fullJitterMs } from '../resilience/retry-delay.ts';
import { breakerJson, breakerTarget } from './breaker-json.ts';
import { isoTime, styleFor, styledBreakerState, type OutputFormat } from './control-output.ts';
import { CommandFailure, EXIT, type ControlConnection } from './operator-client.ts';

export const RECONNECT_BASE_MS = 250;
export const RECONNECT_CAP_MS = 5_000;

type Outcome = number | CommandFailure;

export function watchBreakers(control: ControlConnection, output: OutputFormat, reconnectForMs: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    new BreakerWatch(control, output, reconnectForMs, (outcome) => (typeof outcome === 'number' ? resolve(outcome) : reject(outcome))).start();
  });
}

class BreakerWatch {
  private readonly style = styleFor(process.stdout);
  /** The state last printed per node, upstream and endpoint. */
  private readonly printed = new Map<string, BreakerReport['state']>();
  private stream: grpc.ClientReadableStream<MeshEvent> | undefined;
  /** Events that came before the current breakers were read on this stream. */
  private held: MeshEvent[] | undefined;
  private everListed = false;
  /** When the stream was lost, while it is (the bound on reconnecting counts from here). */
  private lostAtMs: number | undefined;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private done = false;
  private readonly stop = (): void => this.finish(EXIT.ok);

  constructor(
    private readonly control: ControlConnection,
    private readonly output: OutputFormat,
    private readonly reconnectForMs: number,
    private readonly settle: (outcome: Outcome) => void,
  ) {}

  start(): void {
    process.once('SIGINT', this.stop);
    process.once('SIGTERM', this.stop);
    this.open();
  }

  /**
   * The watch opens (on the replica that leads, when --server lists several) before the
   * breakers are read, so no change between the two is missed.
   */
  private open(): void {
    this.retryTimer = undefined;
    this.control.watch().then(
      (stream) => this.opened(stream),
      (failure: CommandFailure) => {
        if (!this.done) this.retryOrFinish(failure);
      },
    );
  }

  private opened(stream: grpc.ClientReadableStream<MeshEvent>): void {
    if (this.done) {
      stream.cancel();
      return;
    }
    this.stream = stream;
    this.held = [];
    stream.on('data', (event: MeshEvent) => this.heard(event));
    stream.on('error', (error: grpc.ServiceError) => this.lost(stream, error));
    stream.on('end', () => this.lost(stream, undefined));
    this.control.call('ListAgents', {}).then(
      ({ agents }) => this.listed(stream, agents),
      (failure: CommandFailure) => this.lost(stream, failure),
    );
  }

  private listed(stream: grpc.ClientReadableStream<MeshEvent>, agents: readonly AgentStatus[]): void {
    if (this.done || stream !== this.stream) return;
    if (this.lostAtMs !== undefined) {
      process.stderr.write(`meshlet: watching ${this.control.server} again (the stream was lost for ${formatSeconds(Date.now() - this.lostAtMs)})\n`);
    }
    this.lostAtMs = undefined;
    this.failures = 0;
    this.everListed = true;
    for (const agent of agents) {
      for (const breaker of agent.lastReport?.breakers ?? []) {
        // Never printed counts as closed: the first listing shows the open and half-open ones.
        if ((this.printed.get(keyOf(agent.node, breaker)) ?? 'BREAKER_STATE_CLOSED') !== breaker.state) this.print(breaker, agent.node, breaker.sinceMs);
      }
    }
    const held = this.held ?? [];
    this.held = undefined;
    // A held event the listing already showed would print the same state twice.
    for (const event of held) {
      if (event.kind === 'breaker' && this.printed.get(keyOf(nodeOf(event), event.breaker)) !== event.breaker.state) this.heard(event);
    }
  }

  private heard(event: MeshEvent): void {
    if (event.kind !== 'breaker') return;
    if (this.held) this.held.push(event);
    else this.print(event.breaker, nodeOf(event), event.atMs);
  }

  private print(breaker: BreakerReport, node: string, atMs: number): void {
    this.printed.set(keyOf(node, breaker), breaker.state);
    if (this.output === 'json') process.stdout.write(`${JSON.stringify({ atMs, at: isoTime(atMs), ...breakerJson(breaker, node) })}\n`);
    else process.stdout.write(`${isoTime(atMs) ?? '-'}  ${node}  ${breakerTarget(breaker)}  ${styledBreakerState(breaker.state, this.style)}  ${breaker.reason}\n`);
  }

  /** The stream or the listing failed (undefined: the server ended the stream). */
  private lost(stream: grpc.ClientReadableStream<MeshEvent>, error: grpc.ServiceError | CommandFailure | undefined): void {
    if (this.done || stream !== this.stream) return;
    this.stream = undefined;
    stream.cancel();
    this.retryOrFinish(error);
  }

  private retryOrFinish(error: grpc.ServiceError | CommandFailure | undefined): void {
    const failure = error === undefined
      ? new CommandFailure(`the control plane at ${this.control.server} ended the watch`, EXIT.unreachable)
      : error instanceof CommandFailure ? error : this.control.failure(error);
    // A wrong token or a refused request does not get better by retrying, nor does an address
    // that never answered: that fails at once, as every other command does.
    if (!this.everListed || !isTransient(error)) return this.finish(failure);
    const now = Date.now();
    if (this.lostAtMs === undefined) {
      this.lostAtMs = now;
      process.stderr.write(`meshlet: lost the watch stream: ${failure.message}; reconnecting for up to ${formatDuration(this.reconnectForMs)} (--reconnect-for)\n`);
    }
    const left = this.lostAtMs + this.reconnectForMs - now;
    if (left <= 0) {
      return this.finish(new CommandFailure(`no watch stream from the control plane at ${this.control.server} for ${formatSeconds(now - this.lostAtMs)} (--reconnect-for): ${failure.message}`, EXIT.unreachable));
    }
    const delay = Math.min(left, fullJitterMs(this.failures++, RECONNECT_BASE_MS, RECONNECT_CAP_MS, Math.random));
    this.retryTimer = setTimeout(() => {
      this.control.reopen();
      this.open();
    }, delay);
  }

  private finish(outcome: Outcome): void {
    if (this.done) return;
    this.done = true;
    process.off('SIGINT', this.stop);
    process.off('SIGTERM', this.stop);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.stream?.cancel();
    this.settle(outcome);
  }
}

/**
 * Worth retrying: the server went away, did not answer in time, ended or reset the stream
 * (CANCELLED here is the server's doing: a stream this side cancels is no longer listened to),
 * or dropped this watcher for falling behind (RESOURCE_EXHAUSTED; the re-read catches up).
 */
const TRANSIENT = new Set<grpc.status | undefined>([
  grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.CANCELLED, grpc.status.RESOURCE_EXHAUSTED, grpc.status.INTERNAL, grpc.status.UNKNOWN,
]);

function isTransient(error: grpc.ServiceError | CommandFailure | undefined): boolean {
  return error === undefined || TRANSIENT.has(error instanceof CommandFailure ? error.grpcCode : error.code);
}

function nodeOf(event: MeshEvent & { kind: 'breaker' }): string {
  return event.node || event.breaker.node;
}

function keyOf(node: string, breaker: BreakerReport): string {
  return `${node}\u0000${breaker.upstream}\u0000${breaker.endpoint}`;
}

function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}
