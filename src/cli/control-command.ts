// `meshlet control`: the control plane. Refuses to start without both tokens; serves gRPC on
// --listen (TLS with --tls-cert/--tls-key, mTLS with --tls-client-ca too) and health, readiness
// and metrics on --admin; keeps policy under --data (one replica, which locks the directory:
// data-dir-lock.ts) or in etcd with --store (replicas, of which the elected leader serves
// agents). Runs until SIGTERM/SIGINT.
import type { Etcd3 } from 'etcd3';
import { mkdir, readFile } from 'node:fs/promises';
import { systemClock } from '../clock.ts';
import { parseHostPort } from '../config/address.ts';
import { TokenAuth, tokensFromEnv } from '../control/control-auth.ts';
import { startControlAdmin, type AdminRoute, type ControlAdminServer } from '../control/control-admin.ts';
import { DataDirLock } from '../control/data-dir-lock.ts';
import { startControlServer, type ControlTls, type RunningControlServer } from '../control/control-server.ts';
import { EtcdElection } from '../control/etcd-election.ts';
import { createEtcdClient, parseEtcdUrl } from '../control/etcd-connection.ts';
import { DEFAULT_ETCD_PREFIX, EtcdPolicyStore } from '../control/etcd-policy-store.ts';
import { FilePolicyStore } from '../control/file-policy-store.ts';
import { SOLE_REPLICA, type Leadership } from '../control/leadership.ts';
import type { PolicyStore } from '../control/policy-store.ts';
import { MeshDashboard } from '../dashboard/mesh-dashboard.ts';
import { createLogger } from '../observability/logger.ts';

export interface ControlCommandOptions {
  readonly listen: string;
  readonly data?: string;
  /** etcd://host:port,… instead of --data. */
  readonly store?: string;
  readonly storePrefix?: string;
  readonly advertise?: string;
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
  if ((options.data === undefined) === (options.store === undefined)) {
    return fail('give exactly one of --data DIR (a single control plane) and --store etcd://host:port,… (replicas sharing etcd)');
  }
  const etcd = options.store === undefined ? undefined : parseEtcdUrl(options.store);
  if (etcd !== undefined && !etcd.ok) return fail(`--store ${options.store}: ${etcd.reason}`);
  if (etcd === undefined && (options.storePrefix !== undefined || options.advertise !== undefined)) return fail('--store-prefix and --advertise go with --store');
  const prefix = options.storePrefix ?? DEFAULT_ETCD_PREFIX;
  if (!prefix.startsWith('/') || !prefix.endsWith('/') || prefix.length < 2) return fail(`--store-prefix ${prefix}: expected a key prefix that starts and ends with "/", as in ${DEFAULT_ETCD_PREFIX}`);
  if (options.advertise !== undefined) {
    const advertise = parseHostPort(options.advertise, { allowPortZero: false });
    if (!advertise.ok) return fail(`--advertise ${options.advertise}: ${advertise.reason}`);
  }

  let lock: DataDirLock | undefined;
  if (options.data !== undefined) {
    try {
      await mkdir(options.data, { recursive: true });
      lock = await DataDirLock.acquire(options.data);
    } catch (error) {
      return fail((error as Error).message);
    }
  }
  let tls: ControlTls | undefined;
  let store: PolicyStore;
  let etcdClient: Etcd3 | undefined;
  let election: EtcdElection | undefined;
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
    if (etcd === undefined) {
      store = await FilePolicyStore.open(options.data!);
    } else {
      etcdClient = createEtcdClient({ members: etcd.members, wallNow: Date.now });
      store = await EtcdPolicyStore.open({ client: etcdClient, prefix, describe: options.store!, clock: systemClock, logger });
      election = new EtcdElection({ client: etcdClient, prefix, clock: systemClock, logger });
    }
    const leadership: Leadership = election ?? SOLE_REPLICA;
    server = await startControlServer({ listen: options.listen, ...(tls ? { tls } : {}), store, leadership, auth: new TokenAuth(tokens.tokens), clock: systemClock, wallNow: Date.now, logger });
  } catch (error) {
    etcdClient?.close();
    await lock?.release();
    return fail((error as Error).message);
  }
  const advertise = options.advertise ?? server.address;
  election?.start(advertise);
  let stopping = false;
  try {
    adminServer = await startControlAdmin({ ...admin, metrics: server.metrics, logger, isReady: () => !stopping });
  } catch (error) {
    await server.close(0);
    await lock?.release();
    return fail(`--admin ${options.admin}: ${(error as Error).message}`);
  }
  const dashboard = mountDashboard(adminServer, server);
  adminServer.addRoute('/api/v1/leader', leaderRoute(election ?? SOLE_REPLICA, election === undefined ? undefined : advertise));
  logger.info({
    listen: server.address, admin: adminServer.address,
    ...(etcd === undefined ? { data: options.data } : { store: options.store, storePrefix: prefix, advertise }),
    tls: tls === undefined ? 'off' : tls.clientCa ? 'mtls' : 'tls', policyVersion: store.current().version }, 'control ready');

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  stopping = true;
  logger.info({ signal }, 'stopping');
  dashboard.close();
  // Resigning first lets another replica lead at once rather than after the lease's TTL.
  await election?.close();
  await server.close();
  await store.close();
  etcdClient?.close();
  await adminServer.close();
  await lock?.release();
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

/** GET /api/v1/leader: whether this replica leads, and who does as far as it knows. */
function leaderRoute(leadership: Leadership, advertise: string | undefined): AdminRoute {
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed');
      return;
    }
    const leader = leadership.isLeader();
    const body = { leader, advertise: advertise ?? null, leaderAddress: leader ? advertise ?? null : leadership.leaderAddress() ?? null, replicated: advertise !== undefined };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
}

function splitHostPort(address: string): { host: string; port: number } | undefined {
  const at = address.lastIndexOf(':');
  if (at <= 0) return undefined;
  const port = Number(address.slice(at + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65_535) return undefined;
  return { host: address.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port };
}
