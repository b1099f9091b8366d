// How an operator sees the one classified outcome of each attempt: a gRPC UNAVAILABLE that
// arrives in a 200 response counts as a failure in meshlet_requests_total and carries its
// grpc_status in the access log, next to the attempts the call took.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { echoClient, unary, type EchoClient } from '../helpers/grpc-client.ts';
import { startAgent, startUpstream, type RunningAgent, type SampleUpstream } from '../helpers/processes.ts';
import { metricsText, pollUntil, sampleValue } from './http-support.ts';

let upstream: SampleUpstream;
let agent: RunningAgent;
let client: EchoClient;

beforeAll(async () => {
  upstream = await startUpstream({ kind: 'grpc', id: 'outcome-pay' });
  agent = await startAgent({
    node: 'outcome-test',
    admin: { listen: '127.0.0.1:0' },
    log: { level: 'info', access: true },
    upstreams: [{ name: 'payments', protocol: 'grpc', listen: '127.0.0.1:0', endpoints: [upstream.address] }],
  });
  client = echoClient(agent.listeners['upstream:payments']!);
  await unary(client, { message: 'ok' });
  for (let i = 0; i < 2; i++) await unary(client, { message: 'down', failCode: 14 }).catch(() => undefined);
  await unary(client, { message: 'missing', failCode: 5 }).catch(() => undefined);
});

afterAll(async () => {
  client?.close();
  await agent?.stop();
  await upstream?.stop();
});

describe('the outcome of a gRPC call', () => {
  it('counts UNAVAILABLE as a failure and NOT_FOUND as an answer, though both came in a 200', async () => {
    const text = await metricsText(agent);
    const labels = { upstream: 'payments', protocol: 'grpc', status_class: '2xx' };
    expect(sampleValue(text, 'meshlet_requests_total', { ...labels, classification: 'failure' })).toBe(2);
    expect(sampleValue(text, 'meshlet_requests_total', { ...labels, classification: 'success' })).toBe(2);
    expect(sampleValue(text, 'meshlet_grpc_responses_total', { upstream: 'payments', grpc_status: 'UNAVAILABLE' })).toBe(2);
  });

  it('logs each call with the grpc_status its client got and the attempts it took', async () => {
    const lines = await pollUntil(async () => agent.logs().filter((line) => line.log === 'access'), (found) => found.length >= 4);
    expect(lines.map((line) => [line.status, line.grpc_status, line.attempts])).toEqual([[200, 0, 1], [200, 14, 1], [200, 14, 1], [200, 5, 1]]);
  });
});
