// Property-based fuzzing of a real agent process over real sockets (issue 6, item 4): whatever
// clients and upstreams send, the agent never exits, every client gets a well-formed answer or
// a clean close/reset, and ordinary requests still succeed afterwards. `npm run fuzz` runs the
// same properties for a million cases and more (bench/fuzz.ts).
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_KINDS } from '../helpers/proxy-clients.ts';
import { http1RequestBytes, http1Response, http2ClientBytes, http2Response } from '../helpers/fuzz/arbitraries.ts';
import {
  ENTRIES, HEALTHY, isCleanOutcome, isHttp1Reply, isHttp2Reply, sendRaw, startFuzzRig, viaScriptedHttp1, viaScriptedHttp2, type FuzzRig,
} from '../helpers/fuzz/rig.ts';

let rig: FuzzRig;

beforeAll(async () => {
  rig = await startFuzzRig(1);
});

afterAll(async () => {
  await rig?.stop();
});

const RUNS = 120;

async function expectStillServing(): Promise<void> {
  expect(rig.alive()).toBe(true);
  expect(await rig.notServing()).toBeUndefined();
}

describe('fuzzed peers never end the agent', () => {
  it('HTTP/1.1 request bytes from clients, on the upstream port, the proxy port and in a CONNECT tunnel', async () => {
    await fc.assert(fc.asyncProperty(fc.constantFrom(...ENTRIES), http1RequestBytes(HEALTHY), async (entry, bytes) => {
      const reply = await sendRaw(rig, entry, bytes);
      return rig.alive() && isHttp1Reply(bytes, reply);
    }), { numRuns: RUNS, endOnFailure: true });
    await expectStillServing();
  });

  it('HTTP/2 frames from clients, on the upstream port, the proxy port and in a CONNECT tunnel', async () => {
    await fc.assert(fc.asyncProperty(fc.constantFrom(...ENTRIES), http2ClientBytes(HEALTHY), async (entry, bytes) => {
      const reply = await sendRaw(rig, entry, bytes);
      return rig.alive() && isHttp2Reply(reply);
    }), { numRuns: RUNS, endOnFailure: true });
    await expectStillServing();
  });

  it('HTTP/1.1 responses from an upstream, to HTTP/1.1, h2c and gRPC clients', async () => {
    await fc.assert(fc.asyncProperty(fc.constantFrom(...CLIENT_KINDS), http1Response, async (client, script) => {
      const outcome = await viaScriptedHttp1(rig.lanes[0]!, client, script);
      return rig.alive() && isCleanOutcome(outcome);
    }), { numRuns: RUNS, endOnFailure: true });
    await expectStillServing();
  });

  it('HTTP/2 frames from an h2c or gRPC upstream, to HTTP/1.1, h2c and gRPC clients', async () => {
    await fc.assert(fc.asyncProperty(fc.constantFrom(...CLIENT_KINDS), fc.boolean(), http2Response, async (client, grpcUpstream, script) => {
      const outcome = await viaScriptedHttp2(rig.lanes[0]!, client, grpcUpstream, script);
      return rig.alive() && isCleanOutcome(outcome);
    }), { numRuns: RUNS, endOnFailure: true });
    await expectStillServing();
  });
});
