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
/**
 * An endpoint unreachable again this soon after it was back (a port that accepts TCP but never
 * brings up a usable connection, such as an HTTP/1-only server behind an h2 upstream) goes on
 * from its last backoff step instead of 100 ms, so it flaps at most once a second.
 */
export const FLAP_WINDOW_MS = 10_000;

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
  /** When each endpoint that was unreachable came back, and the backoff it had reached; forgotten with the endpoint. */
  private readonly recovered = new Map<EndpointState, { readonly at: number; readonly backoffMs: number }>();
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
    this.recovered.delete(endpoint);
    const state = this.unreachable.get(endpoint);
    if (state === undefined) return;
    this.stop(state);
  }

  /** The upstream left the config. */
  close(): void {
    this.closed = true;
    for (const state of [...this.unreachable.values()]) this.stop(state);
    this.recovered.clear();
  }

  private markUnreachable(endpoint: EndpointState, reason: 'connect_failed' | 'connect_timeout'): void {
    const now = this.deps.clock.now();
    const before = this.recovered.get(endpoint);
    const backoffMs = before !== undefined && now - before.at < FLAP_WINDOW_MS ? nextBackoff(before.backoffMs) : RECONNECT_BACKOFF.initialMs;
    const state: ProbeState = { endpoint, since: now, backoffMs, failedProbes: 0, timer: undefined };
    this.unreachable.set(endpoint, state);
    this.host.setExcluded(endpoint, 'unreachable', true);
    const why = reason === 'connect_timeout' ? `no connection within ${this.host.connectTimeoutMs()} ms` : 'its connection was refused';
    this.deps.decisions.record({
      kind: 'unreachable',
      scope: this.host.name,
      endpoint: endpoint.address,
      reason: `unreachable: ${why}; kept out of the balancer until a connect succeeds, tried again in ${Math.round(backoffMs)} ms and then up to every ${RECONNECT_BACKOFF.maxMs} ms`,
      data: { reason },
    });
    this.arm(state);
  }

  private markReachable(state: ProbeState, why: string): void {
    this.stop(state);
    this.recovered.set(state.endpoint, { at: this.deps.clock.now(), backoffMs: state.backoffMs });
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
      state.backoffMs = nextBackoff(state.backoffMs);
      this.arm(state);
    });
  }
}

function nextBackoff(ms: number): number {
  return Math.min(ms * RECONNECT_BACKOFF.multiplier, RECONNECT_BACKOFF.maxMs);
}
