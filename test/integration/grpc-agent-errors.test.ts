// Errors the agent makes itself reach a gRPC client as gRPC statuses, not as HTTP errors or
// resets: a trailers-only response naming the upstream and the cause, with x-meshlet-error.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, startUpstream, type RunningAgent, type SampleUpstream } from '../helpers/processes.ts';
import { echoClient, serverStream, unary, type EchoClient } from '../helpers/grpc-client.ts';
import { unusedPort } from './http-support.ts';

/** A loopback port that was free a moment ago: nothing listens there. */
async function failure(call: Promise<unknown>): Promise<grpc.ServiceError> {
  const outcome = await call.then(() => undefined, (error: unknown) => error);
  if (!(outcome instanceof Error)) throw new Error('the call succeeded');
  return outcome as grpc.ServiceError;
}

describe('gRPC errors made by the agent', () => {
  let slow: SampleUpstream;
  let agent: RunningAgent;
  let deadAddress: string;
  let dead: EchoClient;
  let slowClient: EchoClient;

  beforeAll(async () => {
    deadAddress = `127.0.0.1:${await unusedPort()}`;
    slow = await startUpstream({ kind: 'grpc', id: 'slow-a' });
    agent = await startAgent({
      admin: { listen: '127.0.0.1:0' },
      upstreams: [
        { name: 'ledger', protocol: 'grpc', listen: '127.0.0.1:0', endpoints: [deadAddress], policy: { connectTimeout: '500ms' } },
        { name: 'reports', protocol: 'grpc', listen: '127.0.0.1:0', endpoints: [slow.address], policy: { timeout: '300ms' } },
      ],
    });
    dead = echoClient(agent.listeners['upstream:ledger']!);
    slowClient = echoClient(agent.listeners['upstream:reports']!);
  });

  afterAll(async () => {
    dead?.close();
    slowClient?.close();
    await agent?.stop();
    await slow?.stop();
  });

  it('answers UNAVAILABLE naming the upstream, the endpoint and the cause when nothing listens', async () => {
    const error = await failure(unary(dead, { message: 'x' }));
    expect(error.code).toBe(grpc.status.UNAVAILABLE);
    expect(error.details).toBe(`ledger: connect ECONNREFUSED ${deadAddress} (endpoint ${deadAddress})`);
    expect(error.metadata.get('x-meshlet-error')).toEqual(['MESHLET_CONNECT_FAILED']);
  });

  it('fails a server stream to a dead endpoint the same way', async () => {
    const error = await failure(serverStream(dead, { message: 'x', count: 3 }));
    expect(error.code).toBe(grpc.status.UNAVAILABLE);
    expect(error.metadata.get('x-meshlet-error')).toEqual(['MESHLET_CONNECT_FAILED']);
  });

  it('answers DEADLINE_EXCEEDED when the instance is slower than policy.timeout', async () => {
    const started = performance.now();
    const error = await failure(unary(slowClient, { message: 'x', delayMs: 2_000 }));
    const elapsed = performance.now() - started;
    expect(error.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(error.details).toBe(`reports: no complete response within 300ms (endpoint ${slow.address})`);
    expect(error.metadata.get('x-meshlet-error')).toEqual(['MESHLET_UPSTREAM_TIMEOUT']);
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(1_500);
  });

  it('still answers a fast call on the same upstream after a timeout', async () => {
    const { reply } = await unary(slowClient, { message: 'quick' });
    expect(reply).toMatchObject({ message: 'quick', instance: 'slow-a' });
  });
});
