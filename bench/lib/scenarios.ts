// What the load generators do, and which bare reference each scenario compares meshlet with.

export type Protocol = 'h1' | 'h2c' | 'grpc';
/**
 * meshlet runs on the Node that runs the bench, meshlet-node24 on Node 24 (scripts/node24.sh),
 * meshlet-base is the agent of the `--against` commit on the Node that runs the bench, and
 * meshlet-policy is meshlet with the full resilience policy of examples/agent.yaml.
 */
export type MeshletRowName = 'meshlet' | 'meshlet-policy' | 'meshlet-base' | 'meshlet-node24';
export const MESHLET_ROWS: readonly MeshletRowName[] = ['meshlet', 'meshlet-policy', 'meshlet-base', 'meshlet-node24'];
export type RowName = 'direct' | 'bare-node' | 'naive-h2' | 'haproxy' | MeshletRowName;
export const ROW_NAMES: readonly RowName[] = ['direct', 'bare-node', 'naive-h2', 'haproxy', ...MESHLET_ROWS];
/** The rows a bench runs when `--rows` does not say; `--against` adds meshlet-base. */
export const DEFAULT_ROWS: readonly RowName[] = ROW_NAMES.filter((row) => row !== 'meshlet-base');

export type ScenarioId = 'h1-c50' | 'h1-c1' | 'h2c-10x10' | 'grpc-10x10';

export interface Scenario {
  readonly id: ScenarioId;
  readonly title: string;
  readonly protocol: Protocol;
  readonly tool: 'wrk' | 'h2load';
  readonly connections: number;
  /** Concurrent streams per connection (h2load -m); 1 for HTTP/1.1. */
  readonly streams: number;
  /** The minimal forwarder of the same protocol: the floor any proxy pays. */
  readonly reference: 'bare-node' | 'naive-h2';
}

export const SCENARIOS: readonly Scenario[] = [
  { id: 'h1-c50', title: 'HTTP/1.1, 50 connections (wrk -t1 -c50)', protocol: 'h1', tool: 'wrk', connections: 50, streams: 1, reference: 'bare-node' },
  { id: 'h1-c1', title: 'HTTP/1.1, 1 connection (wrk -t1 -c1)', protocol: 'h1', tool: 'wrk', connections: 1, streams: 1, reference: 'bare-node' },
  { id: 'h2c-10x10', title: 'h2c, 10 connections x 10 streams (h2load -c10 -m10)', protocol: 'h2c', tool: 'h2load', connections: 10, streams: 10, reference: 'naive-h2' },
  { id: 'grpc-10x10', title: 'gRPC unary, 10 connections x 10 streams (h2load -c10 -m10)', protocol: 'grpc', tool: 'h2load', connections: 10, streams: 10, reference: 'naive-h2' },
];

/** The rows a scenario compares, in table order: no proxy, the bare reference, HAProxy, meshlet on each runtime. */
export function rowsFor(scenario: Scenario, selected: readonly RowName[]): RowName[] {
  const order: readonly RowName[] = ['direct', scenario.reference, 'haproxy', ...MESHLET_ROWS];
  return order.filter((row) => selected.includes(row));
}
