import { describe, expect, it } from 'vitest';
import { AccessLog, createLogger } from '../../../src/observability/logger.ts';

function memoryDestination() {
  const lines: Record<string, unknown>[] = [];
  return { lines, write: (msg: string) => void lines.push(JSON.parse(msg) as Record<string, unknown>) };
}

describe('createLogger', () => {
  it('writes one JSON object per line with level name, logger name, time and fields', () => {
    const out = memoryDestination();
    const logger = createLogger({ level: 'info', name: 'orders-1' }, out);

    logger.info({ upstream: 'payments' }, 'config applied');

    expect(out.lines).toHaveLength(1);
    expect(out.lines[0]).toMatchObject({ level: 'info', name: 'orders-1', upstream: 'payments', msg: 'config applied' });
    expect(typeof out.lines[0]!['time']).toBe('number');
  });

  it('drops lines below the configured level', () => {
    const out = memoryDestination();
    const logger = createLogger({ level: 'warn', name: 'orders-1' }, out);

    logger.info('hidden');
    logger.debug('hidden');
    logger.error('shown');

    expect(out.lines.map((l) => [l['level'], l['msg']])).toEqual([['error', 'shown']]);
  });
});

describe('AccessLog', () => {
  it('writes one line per request with the request fields', () => {
    const out = memoryDestination();
    const access = new AccessLog(createLogger({ level: 'info', name: 'orders-1' }, out));

    access.record({
      upstream: 'payments', direction: 'outbound', endpoint: '127.0.0.1:50051', method: 'POST', path: '/pay.v1.Pay/Charge',
      status: 200, grpc_status: 14, attempts: 2, durationMs: 3.2, bytes: 120, protocol: 'grpc', error: 'MESHLET_RETRIED',
    });
    access.record({
      upstream: 'inbound:catalog', direction: 'inbound', endpoint: null, method: 'GET', path: '/items',
      status: 503, attempts: 0, durationMs: 0.4, bytes: 17, protocol: 'http1', error: 'MESHLET_NO_ENDPOINT',
    });

    expect(out.lines).toHaveLength(2);
    expect(out.lines[0]).toMatchObject({
      log: 'access', level: 'info', name: 'orders-1', upstream: 'payments', direction: 'outbound', endpoint: '127.0.0.1:50051',
      method: 'POST', path: '/pay.v1.Pay/Charge', status: 200, grpc_status: 14, attempts: 2, durationMs: 3.2, bytes: 120, protocol: 'grpc',
      error: 'MESHLET_RETRIED',
    });
    expect(out.lines[1]).toMatchObject({ direction: 'inbound', endpoint: null, status: 503, error: 'MESHLET_NO_ENDPOINT' });
  });

  it('writes access lines even when the main log level is above info', () => {
    const out = memoryDestination();
    const logger = createLogger({ level: 'error', name: 'orders-1' }, out);
    const access = new AccessLog(logger);

    logger.info('hidden');
    access.record({
      upstream: 'catalog', direction: 'outbound', endpoint: '127.0.0.1:8081', method: 'GET', path: '/', status: 200, attempts: 1,
      durationMs: 1, bytes: 2, protocol: 'http1',
    });

    expect(out.lines).toHaveLength(1);
    expect(out.lines[0]).toMatchObject({ log: 'access', upstream: 'catalog' });
  });
});
