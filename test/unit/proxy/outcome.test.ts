import { describe, expect, it } from 'vitest';
import { grpcStatusCode } from '../../../src/config/grpc-status.ts';
import { errorCodeFor, judgesEndpoint, neverProcessed, outcomeOf } from '../../../src/proxy/call/outcome.ts';
import { errorShape } from '../../../src/proxy/errors.ts';

describe('outcomeOf', () => {
  it('counts a gRPC UNAVAILABLE in a 200 response as a failure, and NOT_FOUND as an answer', () => {
    expect(outcomeOf(200, grpcStatusCode('UNAVAILABLE'), undefined, 3).failed).toBe(true);
    expect(outcomeOf(200, grpcStatusCode('NOT_FOUND'), undefined, 3).failed).toBe(false);
    expect(outcomeOf(200, grpcStatusCode('OK'), undefined, 3).failed).toBe(false);
  });

  it('counts 5xx and every transport reason of the endpoint as failures, and 4xx as answers', () => {
    expect(outcomeOf(503, undefined, undefined, 1).failed).toBe(true);
    expect(outcomeOf(404, undefined, undefined, 1).failed).toBe(false);
    for (const reason of ['connect_failed', 'connect_timeout', 'reset_before_headers', 'reset_after_headers', 'refused_stream', 'goaway', 'timeout', 'bad_response'] as const) {
      expect(outcomeOf(0, undefined, reason, 1)).toMatchObject({ failed: true, latencyMs: 1, reason });
    }
  });

  it('gives a client cancel, a refused request and a queue overflow neither a failure nor a latency sample', () => {
    for (const reason of ['cancelled', 'bad_request', 'overflow'] as const) {
      expect(outcomeOf(0, undefined, reason, 250)).toMatchObject({ failed: false, latencyMs: undefined });
    }
  });
});

describe('neverProcessed', () => {
  it('holds for what never reached the application, not for what may have', () => {
    expect(['connect_failed', 'connect_timeout', 'refused_stream', 'goaway', 'overflow'].every((r) => neverProcessed(r as never))).toBe(true);
    expect(['reset_before_headers', 'reset_after_headers', 'timeout', 'bad_response', 'cancelled'].some((r) => neverProcessed(r as never))).toBe(false);
    expect(neverProcessed(undefined)).toBe(false);
  });
});

describe('errorCodeFor', () => {
  it('answers each reason with its typed error, and a cancel with none', () => {
    expect(errorCodeFor('refused_stream')).toBe('MESHLET_UPSTREAM_RESET');
    expect(errorCodeFor('connect_timeout')).toBe('MESHLET_CONNECT_FAILED');
    expect(errorCodeFor('timeout')).toBe('MESHLET_UPSTREAM_TIMEOUT');
    expect(errorCodeFor('cancelled')).toBeUndefined();
  });
});

describe('breakers and limits', () => {
  it('answer an open circuit with 503 / UNAVAILABLE and an upstream limit with 503 / RESOURCE_EXHAUSTED, neither counted against an endpoint nor sent again', () => {
    expect(errorShape(errorCodeFor('circuit_open')!)).toEqual({ httpStatus: 503, grpcStatus: grpcStatusCode('UNAVAILABLE') });
    expect(errorCodeFor('circuit_open')).toBe('MESHLET_CIRCUIT_OPEN');
    expect(errorShape(errorCodeFor('upstream_overflow')!)).toEqual({ httpStatus: 503, grpcStatus: grpcStatusCode('RESOURCE_EXHAUSTED') });
    for (const reason of ['circuit_open', 'upstream_overflow'] as const) {
      const outcome = outcomeOf(0, undefined, reason, 1);
      expect([outcome.failed, judgesEndpoint(outcome), neverProcessed(reason)]).toEqual([false, false, false]);
    }
    expect(judgesEndpoint(outcomeOf(200, undefined, undefined, 1))).toBe(true);
    expect(judgesEndpoint(outcomeOf(0, undefined, 'connect_failed', 1))).toBe(true);
  });
});
