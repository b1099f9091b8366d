// Whether anything listens at an endpoint's address. A connection that could not be made
// (refused, or not up within connectTimeout) means no call sent there now can succeed, so the
// endpoint leaves the picker at once ('unreachable', exclusion.ts), as a gRPC subchannel in
// TRANSIENT_FAILURE and a Linkerd balancer endpoint whose connect failed do, instead of after
// outlier detection's consecutiveFailures more callers each paid a transparent retry. A TCP
// connect on gRPC's connection backoff, with shorter steps since an instance being restarted
// is back in seconds, brings it back once something accepts again; so does any attempt that
// succeeds there meanwhile (a call already on a warm connection, or one panic spread to it).

import type { Clock, Random, TimerHandle } from '../../clock.ts';
import type { DecisionLog } from '../../observability/decisions.ts';
import type { Outcome } from '../call/outcome.ts';
import type { EndpointState } from './endpoint-state.ts';
import type { Exclusion } from './exclusion.ts';

/** Resolves true once a TCP connection to host:port is up (and closes it), false on any failure or after timeoutMs. */
export type ConnectProbe = (host: string, port: number, timeoutMs: number) => Promise<boolean>;

export interface ReachabilityHost {
  readonly name: string;
  /** The endpoint is still among the upstream's (a probe outliving its endpoint changes nothing). */
  has(endpoint: EndpointState): boolean;
  setExcluded(endpoint: EndpointState, exclusion: Exclusion, on: boolean): void;
  /** policy.connectTimeout in force, for the probe's own connect. */
  connectTimeoutMs(): number;
}

export interface ReachabilityDependencies {
  readonly clock: Clock;
  readonly random: Random;
  readonly decisions: DecisionLog;
  readonly probe: ConnectProbe;
}

export const RECONNECT_BACKOFF = { initialMs: 100, multiplier: 1.6, maxMs: 1000, jitter: 0.2 } as const;

/** One unreachable endpoint's probing: the backoff step it is at, and its pending timer. */
interface ProbeState {
  readonly endpoint: EndpointState;
  readonly since: number;
  backoffMs: number;
  failedProbes: number;
  /** Unset while a probe's connect is in flight. */
  timer: TimerHandle | undefined;
}

export class Reachability {
  /** At most one entry per endpoint of the upstream, removed when it is reachable again or leaves. */
  private readonly unreachable = new Map<EndpointState, ProbeState>();
  private closed = false;

  constructor(
    private readonly host: ReachabilityHost,
    private readonly deps: ReachabilityDependencies,
  ) {}

  /** How an attempt to `endpoint` ended. On every call: a comparison or two. */
  observe(endpoint: EndpointState, outcome: Outcome): void {
    const reason = outcome.reason;
    if (reason === 'connect_failed' || reason === 'connect_timeout') {
      if (!this.unreachable.has(endpoint)) this.markUnreachable(endpoint, reason);
    } else if (reason === undefined && !outcome.failed && this.unreachable.size !== 0) {
      const state = this.unreachable.get(endpoint);
      if (state !== undefined) this.markReachable(state, 'a call to it succeeded');
    }
  }

  /** The endpoint left the upstream: its probing stops. */
  forget(endpoint: EndpointState): void {
    const state = this.unreachable.get(endpoint);
    if (state === undefined) return;
    this.stop(state);
  }

  /** The upstream left the config. */
  close(): void {
    this.closed = true;
    for (const state of [...this.unreachable.values()]) this.stop(state);
  }

  private markUnreachable(endpoint: EndpointState, reason: 'connect_failed' | 'connect_timeout'): void {
    const state: ProbeState = { endpoint, since: this.deps.clock.now(), backoffMs: RECONNECT_BACKOFF.initialMs, failedProbes: 0, timer: undefined };
    this.unreachable.set(endpoint, state);
    this.host.setExcluded(endpoint, 'unreachable', true);
    const why = reason === 'connect_timeout' ? `no connection within ${this.host.connectTimeoutMs()} ms` : 'its connection was refused';
    this.deps.decisions.record({
      kind: 'unreachable',
      scope: this.host.name,
      endpoint: endpoint.address,
      reason: `unreachable: ${why}; kept out of the balancer until a connect succeeds, tried again in ${RECONNECT_BACKOFF.initialMs} ms and then up to every ${RECONNECT_BACKOFF.maxMs} ms`,
      data: { reason },
    });
    this.arm(state);
  }

  private markReachable(state: ProbeState, why: string): void {
    this.stop(state);
    this.host.setExcluded(state.endpoint, 'unreachable', false);
    const downMs = Math.round(this.deps.clock.now() - state.since);
    this.deps.decisions.record({
      kind: 'reachable',
      scope: this.host.name,
      endpoint: state.endpoint.address,
      reason: `reachable again: ${why}, after ${downMs} ms and ${state.failedProbes} failed ${state.failedProbes === 1 ? 'probe' : 'probes'}`,
      data: { downMs, failedProbes: state.failedProbes },
    });
  }

  private stop(state: ProbeState): void {
    if (state.timer !== undefined) this.deps.clock.clearTimeout(state.timer);
    state.timer = undefined;
    this.unreachable.delete(state.endpoint);
  }

  private arm(state: ProbeState): void {
    const spread = 1 + RECONNECT_BACKOFF.jitter * (2 * this.deps.random() - 1);
    state.timer = this.deps.clock.setTimeout(() => this.probe(state), state.backoffMs * spread);
    state.timer.unref();
  }

  private probe(state: ProbeState): void {
    state.timer = undefined;
    const { endpoint } = state.endpoint;
    void this.deps.probe(endpoint.host, endpoint.port, this.host.connectTimeoutMs()).then((connected) => {
      // Reachable already (a call succeeded), gone from the upstream, or the upstream closed.
      if (this.closed || this.unreachable.get(state.endpoint) !== state || !this.host.has(state.endpoint)) return;
      if (connected) {
        this.markReachable(state, 'a connect probe succeeded');
        return;
      }
      state.failedProbes++;
      state.backoffMs = Math.min(state.backoffMs * RECONNECT_BACKOFF.multiplier, RECONNECT_BACKOFF.maxMs);
      this.arm(state);
    });
  }
}
