// A real agent in front of scripted upstreams, for tests of what upstreams may send: upstream
// 'healthy' (a sample server), 'raw-h1' (a scripted HTTP/1.1 upstream), and 'raw-h2' and
// 'raw-grpc' (one scripted HTTP/2 upstream, as h2c and as gRPC).
import { startAgent, startUpstream, type RunningAgent, type SampleUpstream } from './processes.ts';
import {
  startScriptedHttp1Upstream, startScriptedHttp2Upstream, type Http1Script, type Http2Action, type ScriptedUpstream,
} from './scripted-upstreams.ts';

export interface ScriptedAgent {
  readonly agent: RunningAgent;
  readonly healthy: SampleUpstream;
  readonly h1: ScriptedUpstream<Http1Script>;
  readonly h2: ScriptedUpstream<readonly Http2Action[]>;
  stop(): Promise<void>;
}

/** `policy` applies to every upstream; `extra` is merged into the agent's config. */
export async function startScriptedAgent(node: string, policy: object, extra: object = {}): Promise<ScriptedAgent> {
  const [healthy, h1, h2] = await Promise.all([
    startUpstream({ kind: 'http1', id: 'healthy' }),
    startScriptedHttp1Upstream({ response: Buffer.alloc(0), end: 'close' }),
    startScriptedHttp2Upstream([]),
  ]);
  const upstream = (name: string, protocol: string, endpoint: string): object => ({
    name, protocol, listen: '127.0.0.1:0', endpoints: [endpoint], policy,
  });
  const agent = await startAgent({
    node,
    admin: { listen: '127.0.0.1:0' },
    ...extra,
    upstreams: [
      upstream('healthy', 'http', healthy.address),
      upstream('raw-h1', 'http', h1.address),
      upstream('raw-h2', 'http2', h2.address),
      upstream('raw-grpc', 'grpc', h2.address),
    ],
  });
  return {
    agent, healthy, h1, h2,
    stop: async () => {
      await agent.stop();
      await Promise.all([healthy.stop(), h1.close(), h2.close()]);
    },
  };
}
