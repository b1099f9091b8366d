// The fault scenarios of issue 8: a healthy phase, then a fault injected into the instances
// while the paced client keeps its rate.
import type { FaultInstance } from './instances.ts';

export type FaultScenarioId = 'kill9' | 'half-errors' | 'slow' | 'all-down' | 'retry-storm';

export interface FaultScenario {
  readonly id: FaultScenarioId;
  readonly title: string;
  /** The instance the fault hits, when it hits one; its share of traffic is what detection is judged by. */
  readonly bad: number | undefined;
  /** The instance the fault kills: the attempts each proxy still sends it are counted. */
  readonly dead: number | undefined;
  readonly inject: (instances: readonly FaultInstance[]) => Promise<void>;
  readonly haproxyBalance: 'roundrobin' | 'leastconn';
}

const LAST = 2;

export const FAULT_SCENARIOS: readonly FaultScenario[] = [
  { id: 'kill9', title: 'kill -9 of one instance', bad: undefined, dead: LAST, haproxyBalance: 'roundrobin', inject: async (all) => all[LAST]!.kill() },
  { id: 'half-errors', title: 'one instance answers 500 to every second request', bad: LAST, dead: undefined, haproxyBalance: 'roundrobin', inject: (all) => all[LAST]!.setMode('half-errors') },
  { id: 'slow', title: 'one instance 100 ms slower (HAProxy: leastconn)', bad: LAST, dead: undefined, haproxyBalance: 'leastconn', inject: (all) => all[LAST]!.setMode('slow') },
  { id: 'all-down', title: 'all instances down (connections reset)', bad: undefined, dead: undefined, haproxyBalance: 'roundrobin', inject: async (all) => void (await Promise.all(all.map((i) => i.setMode('reset')))) },
  { id: 'retry-storm', title: 'all instances answer 503', bad: undefined, dead: undefined, haproxyBalance: 'roundrobin', inject: async (all) => void (await Promise.all(all.map((i) => i.setMode('fail')))) },
];
