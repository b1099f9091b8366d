import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { agentNodeArgs } from '../../src/cli/agent-v8-flags.ts';
import type { Baseline } from '../lib/baseline.ts';
import { PROXY_CPU } from '../lib/cpus.ts';
import { REPO_ROOT } from '../lib/paths.ts';
import type { NodeRuntime } from '../lib/node24.ts';
import { freePorts } from '../lib/ports.ts';
import type { ProcessGroup } from '../lib/processes.ts';
import { waitForHttpOk, waitForPort } from '../lib/readiness.ts';
import type { MeshletRowName, Protocol } from '../lib/scenarios.ts';
import { newRow, skipAll, type Row, type UpstreamPorts } from './row.ts';

const PROTOCOLS: readonly Protocol[] = ['h1', 'h2c', 'grpc'];
const MESHLET_PROTOCOL: Readonly<Record<Protocol, string>> = { h1: 'http', h2c: 'http2', grpc: 'grpc' };

/** A policy per protocol; none is the default policy. */
export type BenchPolicies = Readonly<Record<Protocol, unknown>>;

/**
 * The full policy of examples/agent.yaml: its gRPC upstream's; for HTTP/1.1 and h2c the same, with
 * the HTTP fallback of its HTTP upstream (a gRPC status means nothing to an HTTP client).
 */
export function examplePolicies(): BenchPolicies {
  const example = parse(readFileSync(join(REPO_ROOT, 'examples', 'agent.yaml'), 'utf8')) as { upstreams: { protocol: string; policy: Record<string, unknown> }[] };
  const grpc = example.upstreams.find((u) => u.protocol === 'grpc')!.policy;
  const http = example.upstreams.find((u) => u.protocol === 'http')!.policy;
  const asHttp = { ...grpc, fallback: http.fallback };
  return { h1: asHttp, h2c: asHttp, grpc };
}

/** A standalone agent (no gossip, no control plane) with one static upstream per protocol, with the default policy or `policies`. */
export function meshletConfig(adminPort: number, listen: UpstreamPorts, upstreams: UpstreamPorts, policies?: BenchPolicies): string {
  return stringify({
    node: 'bench',
    admin: { listen: `127.0.0.1:${adminPort}` },
    log: { level: 'warn' },
    upstreams: PROTOCOLS.map((protocol) => ({
      name: `bench-${protocol}`,
      protocol: MESHLET_PROTOCOL[protocol],
      listen: `127.0.0.1:${listen[protocol]}`,
      endpoints: [`127.0.0.1:${upstreams[protocol]}`],
      ...(policies ? { policy: policies[protocol] } : {}),
    })),
  });
}

/** How a meshlet row starts its agent: a node binary and node's arguments for a config file, or why it cannot. */
export type AgentLaunch = { readonly node: string; readonly nodeArgs: (configFile: string) => string[] } | { readonly unavailable: string };

/** This checkout's `bin/meshlet.js agent` on the given Node, with the V8 flags the agent runs with on that Node. */
export function currentAgent(node: NodeRuntime): AgentLaunch {
  if ('unavailable' in node) return node;
  return { node: node.path, nodeArgs: (configFile) => agentNodeArgs(['-c', configFile], node.version) };
}

/**
 * The baseline commit's `bin/meshlet.js agent` (from its worktree) on the Node that runs the
 * bench, with that commit's V8 flags, started the way this checkout's agent is.
 */
export function baselineAgent(baseline: Baseline): AgentLaunch {
  const bin = join(baseline.dir, 'bin', 'meshlet.js');
  return { node: process.execPath, nodeArgs: (configFile) => [...baseline.v8Flags, bin, 'agent', '-c', configFile] };
}

/** A meshlet row: the agent `launch` says, ready on /readyz and listening for every protocol. */
export async function meshletRow(name: MeshletRowName, launch: AgentLaunch, group: ProcessGroup, upstreams: UpstreamPorts, tmpDir: string, policies?: BenchPolicies): Promise<Row> {
  const row = newRow(name);
  if ('unavailable' in launch) return skipAll(row, PROTOCOLS, launch.unavailable);
  const [admin, h1, h2c, grpc] = (await freePorts(4)) as [number, number, number, number];
  const listen = { h1, h2c, grpc };
  const configFile = join(tmpDir, `${name}.yaml`);
  writeFileSync(configFile, meshletConfig(admin, listen, upstreams, policies));
  const agent = group.start(name, PROXY_CPU, launch.node, launch.nodeArgs(configFile));
  try {
    await waitForHttpOk(agent, `http://127.0.0.1:${admin}/readyz`);
    for (const protocol of PROTOCOLS) await waitForPort(agent, listen[protocol], 5000);
  } catch (error) {
    agent.terminate();
    return skipAll(row, PROTOCOLS, (error as Error).message);
  }
  for (const protocol of PROTOCOLS) row.targets.set(protocol, { port: listen[protocol], process: agent });
  return row;
}
