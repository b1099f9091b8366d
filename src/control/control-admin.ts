// The control plane's admin HTTP listener (`--admin`): /healthz, /readyz, /metrics, and the
// place the dashboard mounts its routes (addRoute), so probes, scrapes and the web page never
// share a port with the gRPC API.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../observability/logger.ts';
import type { ControlMetrics } from './control-metrics.ts';

export type AdminRoute = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface ControlAdminServer {
  /** The bound "host:port". */
  readonly address: string;
  /**
   * Serves `path` (exactly, or every path under it when it ends in "/") with `route`, which
   * answers any method itself; the built-in paths cannot be replaced.
   */
  addRoute(path: string, route: AdminRoute): void;
  close(): Promise<void>;
}

export interface ControlAdminOptions {
  readonly host: string;
  readonly port: number;
  readonly metrics: ControlMetrics;
  readonly logger: Logger;
  /** /readyz: true while the gRPC server takes calls. */
  isReady(): boolean;
}

const BUILT_IN = new Set(['/healthz', '/readyz', '/metrics']);

export async function startControlAdmin(options: ControlAdminOptions): Promise<ControlAdminServer> {
  const exact = new Map<string, AdminRoute>();
  const prefixes: [string, AdminRoute][] = [];

  const builtIn = async (path: string, res: ServerResponse): Promise<void> => {
    if (path === '/healthz') return text(res, 200, 'ok');
    if (path === '/readyz') return options.isReady() ? text(res, 200, 'ready') : text(res, 503, 'not ready');
    res.writeHead(200, { 'content-type': options.metrics.contentType }).end(await options.metrics.metricsText());
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (BUILT_IN.has(path)) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return text(res.setHeader('allow', 'GET, HEAD'), 405, 'method not allowed');
      return builtIn(path, res);
    }
    const route = exact.get(path) ?? prefixes.find(([prefix]) => path.startsWith(prefix))?.[1];
    if (route === undefined) return text(res, 404, 'not found');
    await route(req, res);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      options.logger.error({ err, path: req.url }, 'admin request failed');
      if (!res.headersSent) text(res, 500, 'internal error');
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => options.logger.error({ err }, 'admin server error'));
  const bound = server.address() as AddressInfo;

  return {
    address: `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`,
    addRoute: (path, route) => {
      if (BUILT_IN.has(path)) throw new Error(`${path} is the admin listener's own`);
      if (path.endsWith('/')) prefixes.push([path, route]);
      else exact.set(path, route);
    },
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
}
