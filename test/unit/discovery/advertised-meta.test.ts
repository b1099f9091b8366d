import { describe, expect, it } from 'vitest';
import { serviceSchema } from '../../../src/config/service-schema.ts';
import { advertisedMeta } from '../../../src/discovery/advertised-meta.ts';
import type { ServiceHealth } from '../../../src/gossip/messages.ts';

const services = [
  serviceSchema.parse({ name: 'orders', target: '127.0.0.1:8080', listen: '0.0.0.0:15006', health: { http: '/healthz' } }),
  serviceSchema.parse({ name: 'users', protocol: 'grpc', target: '127.0.0.1:9090', listen: '127.0.0.7:15007', weight: 3, zone: 'eu-1a' }),
  serviceSchema.parse({ name: 'v6', protocol: 'http2', target: '[::1]:9091', listen: '[::]:15008' }),
  serviceSchema.parse({ name: 'later', target: '127.0.0.1:9092', listen: '127.0.0.1:0' }),
];
const health = (states: Record<string, ServiceHealth>) => (name: string) => states[name] ?? 'unknown';

describe('the advertised meta', () => {
  it('advertises each service at its inbound listener, a wildcard one at the advertise host, with its health, weight and zone', () => {
    const meta = advertisedMeta({ services, advertiseHost: '10.1.2.3', health: health({ orders: 'failing' }), draining: false, version: '0.1.0' });
    expect(meta).toEqual({
      services: [
        { name: 'orders', address: '10.1.2.3:15006', protocol: 'http', weight: 1, zone: '', health: 'failing' },
        { name: 'users', address: '127.0.0.7:15007', protocol: 'grpc', weight: 3, zone: 'eu-1a', health: 'unknown' },
        { name: 'v6', address: '10.1.2.3:15008', protocol: 'http2', weight: 1, zone: '', health: 'unknown' },
      ],
      draining: false,
      version: '0.1.0',
    });
  });

  it('brackets an IPv6 advertise host, takes the bound port of a listen on port 0, and carries draining', () => {
    const meta = advertisedMeta({ services, advertiseHost: 'fd00::5', health: health({}), draining: true, version: 'x', boundPorts: new Map([['later', 40001]]) });
    expect(meta.draining).toBe(true);
    expect(meta.services.map((s) => s.address)).toEqual(['[fd00::5]:15006', '127.0.0.7:15007', '[fd00::5]:15008', '127.0.0.1:40001']);
  });
});
