// The immutable snapshot every picker is built from. Static config fills it today; discovery
// (gossip + health) will publish new snapshots through the same type.

export type EndpointHealth = 'healthy' | 'unhealthy' | 'unknown';

export interface Endpoint {
  /** "host:port" as written in config or advertised by discovery; the endpoint's identity. */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  /** Positive integer, default 1. */
  readonly weight: number;
  readonly zone?: string;
  /** A backup takes calls only when no primary can. */
  readonly backup: boolean;
  readonly health: EndpointHealth;
  readonly metadata: Readonly<Record<string, string>>;
}

export interface EndpointSet {
  readonly endpoints: readonly Endpoint[];
  /** Increases with every new snapshot of the same upstream. */
  readonly version: number;
}

export function endpointSet(endpoints: readonly Endpoint[], version = 1): EndpointSet {
  return Object.freeze({ endpoints: Object.freeze([...endpoints]), version });
}

/**
 * How the agent itself keeps calls off an endpoint, apart from its health: 'none'; 'excluded'
 * (ejected: kept off unless the upstream is in panic); 'last_resort' (unreachable: no connection
 * could be made, so kept off even in panic, where it would relieve no one, but tried when no
 * other endpoint can take the call, since a refused connect costs next to nothing and succeeds
 * the moment the instance is back); 'barred' (its breaker is open: kept off even in panic, since
 * the breaker would fail its calls fast anyway).
 */
export type ExclusionLevel = 'none' | 'last_resort' | 'excluded' | 'barred';

export type ExclusionCheck = (endpoint: Endpoint) => ExclusionLevel;

const NONE_EXCLUDED: ExclusionCheck = () => 'none';
const SPREAD_IN_PANIC: ReadonlySet<ExclusionLevel> = new Set(['none', 'excluded']);

export interface Eligibility {
  readonly endpoints: readonly Endpoint[];
  /** Too few primaries were eligible, so the calls spread over more of them than are. */
  readonly panic: boolean;
  /** Primaries neither unhealthy nor excluded, of `primaries`: what panic is judged on. */
  readonly eligiblePrimaries: number;
  readonly primaries: number;
}

/**
 * The one definition of the endpoints that may take traffic, every picker is built on. An
 * endpoint is eligible when it is neither unhealthy nor excluded. The rules, in order:
 * 1. Eligible primaries, when they are at least `panicThreshold` percent of the primaries
 *    (any number of them when the threshold is 0).
 * 2. No primary eligible: eligible backups. Backups take calls only when no primary can.
 * 3. Panic (some primaries eligible, but fewer than the threshold): every primary whose breaker
 *    is not open and that is reachable, unhealthy and ejected ones too, as Envoy's
 *    healthy_panic_threshold, so the few left are not crushed by the whole load. Unlike Envoy, panic needs one eligible primary:
 *    with none, nothing healthy is left to protect, and failing fast (or the fallback) is the
 *    deliberate answer rather than sending every call to endpoints known to be down.
 * 4. No endpoint eligible: the unreachable ones ('last_resort'), primaries before backups.
 * 5. Nothing: the call fails with no eligible endpoint.
 */
export function eligibility(set: EndpointSet, excluded: ExclusionCheck = NONE_EXCLUDED, panicThreshold = 0): Eligibility {
  const primaries = set.endpoints.filter((e) => !e.backup);
  const eligible = primaries.filter((e) => e.health !== 'unhealthy' && excluded(e) === 'none');
  const result = (endpoints: readonly Endpoint[], panic: boolean): Eligibility => ({ endpoints, panic, eligiblePrimaries: eligible.length, primaries: primaries.length });
  if (eligible.length === 0) {
    const backups = set.endpoints.filter((e) => e.backup && e.health !== 'unhealthy' && excluded(e) === 'none');
    if (backups.length > 0) return result(backups, false);
    const lastResort = (backup: boolean) => set.endpoints.filter((e) => e.backup === backup && e.health !== 'unhealthy' && excluded(e) === 'last_resort');
    const unreachable = lastResort(false);
    return result(unreachable.length > 0 ? unreachable : lastResort(true), false);
  }
  if (eligible.length * 100 >= panicThreshold * primaries.length) return result(eligible, false);
  const spread = primaries.filter((e) => SPREAD_IN_PANIC.has(excluded(e)));
  return spread.length > eligible.length ? result(spread, true) : result(eligible, false);
}

/** eligibility(...).endpoints: the set a picker is built on. */
export function eligibleEndpoints(set: EndpointSet, excluded: ExclusionCheck = NONE_EXCLUDED, panicThreshold = 0): readonly Endpoint[] {
  return eligibility(set, excluded, panicThreshold).endpoints;
}
