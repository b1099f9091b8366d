import { describe, expect, it } from 'vitest';
import { hashKeyExtractor } from '../../../src/proxy/upstream/hash-key.ts';
import type { ProxiedRequest } from '../../../src/proxy/call/proxied-request.ts';

function request(headers: ProxiedRequest['headers'], sourceAddress = '10.0.0.7'): ProxiedRequest {
  return { method: 'GET', path: '/', authority: 'catalog', headers, body: null, grpc: false, sourceAddress, multiplexed: false };
}

describe('hashKeyExtractor', () => {
  it('reads a header from HTTP/1.1 (flat list) and HTTP/2 (object) requests, by its lowercase name', () => {
    const key = hashKeyExtractor({ header: 'X-User-Id' });
    expect(key(request(['host', 'catalog', 'x-user-id', 'u-42']))).toBe('u-42');
    expect(key(request({ 'x-user-id': 'u-43' }))).toBe('u-43');
    expect(key(request(['host', 'catalog']))).toBeUndefined();
  });

  it('reads one cookie out of the Cookie header, and not a cookie whose name only ends the same', () => {
    const key = hashKeyExtractor({ cookie: 'session' });
    expect(key(request(['cookie', 'theme=dark; session=abc123; lang=en']))).toBe('abc123');
    expect(key(request({ cookie: 'mysession=zzz' }))).toBeUndefined();
    expect(key(request({}))).toBeUndefined();
  });

  it('uses the source address, and gives no key (a random pick) when nothing is configured', () => {
    expect(hashKeyExtractor({ sourceAddress: true })(request({}, '10.1.2.3'))).toBe('10.1.2.3');
    expect(hashKeyExtractor(undefined)(request({ 'x-user-id': 'u-1' }))).toBeUndefined();
  });
});
