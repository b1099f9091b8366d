// The control plane's etcd client: `--store etcd://host:port,host:port,…` parsed into its
// members, and one Etcd3 client for the store and the election together, with a deadline on
// every unary call (streams — watch, lease keepalive — have none: they are meant to stay open)
// and a watch stream that comes back within a couple of seconds of etcd returning (etcd3's
// default backoff grows to 30 s, longer than a failover may take). A member that refuses or
// drops a call is skipped from its first failure, not its third, and a call is tried on every
// member before it fails: with etcd3's defaults (three failures to open a member's breaker,
// three attempts on random members) a call could fail whole while two members of three were up.
import { circuitBreaker, ConsecutiveBreaker, handleWhen, retry } from 'cockatiel';
import { Etcd3, isRecoverableError } from 'etcd3';
import { parseHostPort } from '../config/address.ts';

export const ETCD_SCHEME = 'etcd://';
/** What one etcd call may take before it fails, so an apply never hangs on a dead cluster. */
export const DEFAULT_ETCD_REQUEST_TIMEOUT_MS = 2_000;
const WATCH_RETRY_FIRST_MS = 100;
const WATCH_RETRY_CAP_MS = 2_000;
/** A member skipped after a failure is tried again this much later. */
const MEMBER_HALF_OPEN_MS = 2_000;

export type EtcdUrlResult = { readonly ok: true; readonly members: readonly string[] } | { readonly ok: false; readonly reason: string };

/** "etcd://127.0.0.1:2379,127.0.0.1:22379" → the members' "host:port"s, or why it is not one. */
export function parseEtcdUrl(text: string): EtcdUrlResult {
  if (!text.startsWith(ETCD_SCHEME)) return { ok: false, reason: `expected etcd://host:port[,host:port…], got "${text}"` };
  const entries = text.slice(ETCD_SCHEME.length).split(',');
  const members: string[] = [];
  for (const [index, entry] of entries.entries()) {
    const parsed = parseHostPort(entry.trim(), { allowPortZero: false });
    if (!parsed.ok) return { ok: false, reason: `member ${index + 1} of "${text}": ${parsed.reason}` };
    members.push(parsed.value.text);
  }
  return { ok: true, members };
}

export interface EtcdClientOptions {
  readonly members: readonly string[];
  /** Wall-clock milliseconds since the epoch: grpc-js deadlines are wall-clock dates. */
  readonly wallNow: () => number;
  readonly requestTimeoutMs?: number;
}

export function createEtcdClient(options: EtcdClientOptions): Etcd3 {
  const timeout = options.requestTimeoutMs ?? DEFAULT_ETCD_REQUEST_TIMEOUT_MS;
  return new Etcd3({
    hosts: options.members.map((member) => `http://${member}`),
    dialTimeout: timeout,
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: options.wallNow() + timeout }),
    faultHandling: {
      host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: MEMBER_HALF_OPEN_MS, breaker: new ConsecutiveBreaker(1) }),
      global: retry(handleWhen(isRecoverableError), { maxAttempts: options.members.length + 1 }),
      watchBackoff: cappedBackoff(WATCH_RETRY_FIRST_MS),
    },
  });
}

interface Backoff {
  readonly duration: number;
  next(): Backoff;
}

/** The shape etcd3's watch manager asks of a backoff: this delay, and the one after it. */
function cappedBackoff(ms: number): Backoff {
  return { duration: ms, next: () => cappedBackoff(Math.min(WATCH_RETRY_CAP_MS, ms * 2)) };
}
