// `meshlet control`: the control plane. Refuses to start without both tokens; serves gRPC on
// --listen (TLS with --tls-cert/--tls-key, mTLS with --tls-client-ca too) and health, readiness
// and metrics on --admin; keeps policy under --data. Runs until SIGTERM/SIGINT.
import { readFile } from 'node:fs/promises';
import { systemClock } from '../clock.ts';
import { TokenAuth, tokensFromEnv } from '../control/control-auth.ts';
import { startControlAdmin, type ControlAdminServer } from '../control/control-admin.ts';
import { startControlServer, type ControlTls, type RunningControlServer } from '../control/control-server.ts';
import { FilePolicyStore } from '../control/file-policy-store.ts';
import { MeshDashboard } from '../dashboard/mesh-dashboard.ts';
import { createLogger } from '../observability/logger.ts';

export interface ControlCommandOptions {
  readonly listen: string;
  readonly data: string;
  readonly admin: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly tlsClientCa?: string;
}

export async function runControl(options: ControlCommandOptions): Promise<number> {
  const logger = createLogger({ level: 'info', name: 'meshlet-control' });
  const fail = (message: string): number => {
    logger.fatal(message);
    process.stderr.write(`meshlet control: ${message}\n`);
    return 1;
  };
  const tokens = tokensFromEnv(process.env);
  if (!tokens.ok) return fail(tokens.error);
  const admin = splitHostPort(options.admin);
  if (admin === undefined) return fail(`--admin ${options.admin}: expected host:port`);
  if (splitHostPort(options.listen) === undefined) return fail(`--listen ${options.listen}: expected host:port`);
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) return fail('--tls-cert and --tls-key go together');
  if (options.tlsClientCa !== undefined && options.tlsCert === undefined) return fail('--tls-client-ca needs --tls-cert and --tls-key');

  let tls: ControlTls | undefined;
  let store: FilePolicyStore;
  let server: RunningControlServer;
  let adminServer: ControlAdminServer;
  try {
    if (options.tlsCert !== undefined && options.tlsKey !== undefined) {
      tls = {
        cert: await readFile(options.tlsCert),
        key: await readFile(options.tlsKey),
        ...(options.tlsClientCa !== undefined ? { clientCa: await readFile(options.tlsClientCa) } : {}),
      };
    }
    store = await FilePolicyStore.open(options.data);
    server = await startControlServer({ listen: options.listen, ...(tls ? { tls } : {}), store, auth: new TokenAuth(tokens.tokens), clock: systemClock, wallNow: Date.now, logger });
  } catch (error) {
    return fail((error as Error).message);
  }
  let stopping = false;
  try {
    adminServer = await startControlAdmin({ ...admin, metrics: server.metrics, logger, isReady: () => !stopping });
  } catch (error) {
    await server.close(0);
    return fail(`--admin ${options.admin}: ${(error as Error).message}`);
  }
  const dashboard = mountDashboard(adminServer, server);
  logger.info({ listen: server.address, admin: adminServer.address, data: options.data, tls: tls === undefined ? 'off' : tls.clientCa ? 'mtls' : 'tls', policyVersion: store.current().version }, 'control ready');

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  stopping = true;
  logger.info({ signal }, 'stopping');
  dashboard.close();
  await server.close();
  await store.close();
  await adminServer.close();
  logger.info('stopped');
  return 0;
}

/** The mesh dashboard on the admin listener, fed every mesh event and, per request, every agent's last report. */
function mountDashboard(admin: ControlAdminServer, server: RunningControlServer): MeshDashboard {
  const { registry, watchers } = server.service;
  const dashboard = new MeshDashboard({
    clock: systemClock,
    wallNow: Date.now,
    agents: () => registry.list().map((agent) => ({ node: agent.node, report: agent.lastReport })),
  });
  // A watcher that never falls behind: heard() records into the dashboard's bounded ring.
  watchers.add({ write: (event) => dashboard.heard(event), backlog: () => 0, drop: () => undefined });
  for (const [path, route] of dashboard.routes()) admin.addRoute(path, route);
  return dashboard;
}

function splitHostPort(address: string): { host: string; port: number } | undefined {
  const at = address.lastIndexOf(':');
  if (at <= 0) return undefined;
  const port = Number(address.slice(at + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65_535) return undefined;
  return { host: address.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port };
}
