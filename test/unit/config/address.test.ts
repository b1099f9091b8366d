import { describe, expect, it } from 'vitest';
import { formatHostPort, parseHostPort } from '../../../src/config/address.ts';

const connect = { allowPortZero: false };
const listen = { allowPortZero: true };

describe('parseHostPort', () => {
  it.each([
    ['127.0.0.1:9001', '127.0.0.1', 9001],
    ['localhost:80', 'localhost', 80],
    ['payments.default.svc.cluster.local:50051', 'payments.default.svc.cluster.local', 50051],
    ['[::1]:9001', '::1', 9001],
    ['[fe80::1%eth0]:9001', 'fe80::1%eth0', 9001],
    ['0.0.0.0:65535', '0.0.0.0', 65535],
  ])('reads %s', (text, host, port) => {
    expect(parseHostPort(text, connect)).toEqual({ ok: true, value: { host, port, text } });
  });

  it('allows port 0 ("any free port") only where the agent listens', () => {
    expect(parseHostPort('127.0.0.1:0', listen)).toEqual({ ok: true, value: { host: '127.0.0.1', port: 0, text: '127.0.0.1:0' } });
    expect(parseHostPort('127.0.0.1:0', connect)).toEqual({
      ok: false,
      reason: 'the port must be a number from 1 to 65535, got "0" in "127.0.0.1:0"',
    });
  });

  it.each([
    ['localhost', 'expected "host:port", got "localhost"'],
    [':9001', 'the host is missing in ":9001"; write 0.0.0.0:9001 for every interface or 127.0.0.1:9001 for this host only'],
    ['::1:9001', 'an IPv6 address needs brackets, as in "[::1]:9001", got "::1:9001"'],
    ['[nope]:9001', '"nope" in "[nope]:9001" is not an IPv6 address'],
    ['300.1.1.1:80', '"300.1.1.1" in "300.1.1.1:80" is not a valid host name or IPv4 address'],
    ['bad host:80', '"bad host" in "bad host:80" is not a valid host name or IPv4 address'],
    ['127.0.0.1:65536', 'the port must be a number from 0 to 65535, got "65536" in "127.0.0.1:65536"'],
    ['127.0.0.1:http', 'the port must be a number from 0 to 65535, got "http" in "127.0.0.1:http"'],
    ['127.0.0.1:', 'the port must be a number from 0 to 65535, got "" in "127.0.0.1:"'],
  ])('refuses %s', (text, reason) => {
    expect(parseHostPort(text, listen)).toEqual({ ok: false, reason });
  });
});

describe('formatHostPort', () => {
  it.each([
    ['127.0.0.1', 9001, '127.0.0.1:9001'],
    ['::1', 9001, '[::1]:9001'],
    ['payments.svc', 50051, 'payments.svc:50051'],
  ])('formats %s and %i as %s, which parses back', (host, port, text) => {
    expect(formatHostPort(host, port)).toBe(text);
    expect(parseHostPort(text, connect)).toMatchObject({ ok: true, value: { host, port } });
  });
});
