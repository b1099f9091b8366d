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

/** Says whether the agent itself keeps calls off an endpoint (its breaker is open, it is ejected). */
export type ExclusionCheck = (endpoint: Endpoint) => boolean;

const NONE_EXCLUDED: ExclusionCheck = () => false;

/**
 * Endpoints that may take traffic: primaries neither unhealthy nor excluded, else such
 * backups. This is the one definition of "eligible" every picker is built on.
 */
export function eligibleEndpoints(set: EndpointSet, excluded: ExclusionCheck = NONE_EXCLUDED): readonly Endpoint[] {
  const usable = set.endpoints.filter((e) => e.health !== 'unhealthy' && !excluded(e));
  const primaries = usable.filter((e) => !e.backup);
  return primaries.length > 0 ? primaries : usable.filter((e) => e.backup);
}
