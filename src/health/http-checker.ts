// http: "/path" — a GET of the path on the service's target, on a connection of its own that
// is closed after the status line; 2xx and 3xx pass, as HAProxy's `option httpchk`.

import { request } from 'node:http';
import type { Clock } from '../clock.ts';
import type { HostPort } from '../config/types.ts';
import { boundedCheck, errorReason, failed, passed, type CheckResult, type HealthChecker } from './check-result.ts';

const HEADERS = { connection: 'close', 'user-agent': 'meshlet-health-check' } as const;

export class HttpChecker implements HealthChecker {
  constructor(
    private readonly target: HostPort,
    private readonly path: string,
    private readonly timeoutMs: number,
    private readonly clock: Clock,
  ) {}

  check(signal: AbortSignal): Promise<CheckResult> {
    return boundedCheck({ clock: this.clock, timeoutMs: this.timeoutMs, signal }, (settle) => {
      // agent: false: no pool keeps the socket once the check is over.
      const req = request({ host: this.target.host, port: this.target.port, path: this.path, method: 'GET', headers: HEADERS, agent: false });
      req.on('response', (res) => {
        // Destroying the request mid-body makes the response emit an error nobody needs.
        res.on('error', () => undefined);
        const status = res.statusCode ?? 0;
        settle(status >= 200 && status < 400 ? passed(`HTTP ${status}`) : failed(`HTTP ${status}`));
      });
      req.on('error', (err) => settle(failed(requestErrorReason(err))));
      req.end();
      return () => req.destroy();
    });
  }

  close(): void {}
}

function requestErrorReason(err: NodeJS.ErrnoException): string {
  if (err.code?.startsWith('HPE_')) return `invalid HTTP response (${err.code})`;
  // "socket hang up" is Node's word for a close before any response; a reset says the same.
  if (err.message === 'socket hang up' || err.code === 'ECONNRESET' || err.code === 'EPIPE') return 'connection closed before a response';
  return errorReason(err);
}
