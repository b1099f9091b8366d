// The admin HTTP API: liveness and readiness probes, Prometheus metrics and read-only JSON
// views of the agent. It listens on its own address so probes and scrapes never compete
// with proxied traffic.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../clock.ts';
import type { DecisionLog } from './decisions.ts';
import { serveDecisionStream } from './decision-stream.ts';
import type { Logger } from './logger.ts';
import type { MeshletMetrics } from './metrics.ts';

export interface AdminSource {
  /** GET /healthz: 200 while the process can serve at all. */
  isLive(): boolean;
  /** GET /readyz: false until listeners are up and while draining. */
  isReady(): boolean;
  /** GET /api/v1/upstreams body. */
  upstreams(): unknown[];
  /** GET /api/v1/config body, already redacted by the caller. */
  effectiveConfig(): unknown;
}

export interface AdminServer {
  /** The bound address; port 0 in the options becomes the port the OS chose. */
  readonly address: { host: string; port: number };
  close(): Promise<void>;
}

export interface AdminServerOptions {
  readonly listen: { readonly host: string; readonly port: number };
  readonly metrics: MeshletMetrics;
  readonly source: AdminSource;
  readonly logger: Logger;
  readonly decisions: DecisionLog;
  readonly clock: Clock;
}

type Route = (res: ServerResponse, req: IncomingMessage) => void | Promise<void>;

export async function startAdminServer(opts: AdminServerOptions): Promise<AdminServer> {
  const { metrics, source, logger } = opts;
  const streams = new Set<ServerResponse>();
  const routes = new Map<string, Route>([
    ['/healthz', (res) => (source.isLive() ? sendText(res, 200, 'ok') : sendText(res, 503, 'not live'))],
    ['/readyz', (res) => (source.isReady() ? sendText(res, 200, 'ready') : sendText(res, 503, 'not ready'))],
    ['/metrics', async (res) => send(res, 200, metrics.contentType, await metrics.metricsText())],
    ['/api/v1/upstreams', (res) => sendJson(res, 200, source.upstreams())],
    ['/api/v1/config', (res) => sendJson(res, 200, source.effectiveConfig())],
    ['/api/v1/events', (res, req) => serveDecisionStream(req, res, opts.decisions, opts.clock, streams)],
  ]);

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      logger.error({ err, path: req.url }, 'admin request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = pathOf(req.url ?? '/');
    const route = routes.get(path);
    if (route === undefined) return sendJson(res, 404, { error: 'not found', path });
    // HEAD is answered like GET (node:http drops the body), as HTTP requires of any GET resource.
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return sendJson(res, 405, { error: 'method not allowed', method: req.method });
    }
    await route(res, req);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.listen.port, opts.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => logger.error({ err }, 'admin server error'));

  const bound = server.address() as AddressInfo;
  logger.info({ host: bound.address, port: bound.port }, 'admin server listening');

  return {
    address: { host: bound.address, port: bound.port },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Event streams never end on their own.
        for (const stream of streams) stream.end();
        // close() stops accepting; keep-alive sockets that sit idle would hold it open.
        server.closeIdleConnections();
      }),
  };
}

function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function sendText(res: ServerResponse, status: number, body: string): void {
  send(res, status, 'text/plain; charset=utf-8', body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(value, null, 2)}\n`);
}
