// tcp: true — the service passes when it accepts a TCP connection, closed at once.

import { connect } from 'node:net';
import type { Clock } from '../clock.ts';
import type { HostPort } from '../config/types.ts';
import { boundedCheck, errorReason, failed, passed, type CheckResult, type HealthChecker } from './check-result.ts';

export class TcpChecker implements HealthChecker {
  constructor(
    private readonly target: HostPort,
    private readonly timeoutMs: number,
    private readonly clock: Clock,
  ) {}

  check(signal: AbortSignal): Promise<CheckResult> {
    return boundedCheck({ clock: this.clock, timeoutMs: this.timeoutMs, signal }, (settle) => {
      const socket = connect({ host: this.target.host, port: this.target.port });
      socket.once('connect', () => settle(passed('connected')));
      socket.on('error', (err) => settle(failed(errorReason(err))));
      return () => socket.destroy();
    });
  }

  close(): void {}
}
