// Structured JSON logs on stdout (one object per line), and the optional access log.
import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogConfig } from '../config/types.ts';
import type { WireProtocol } from './endpoint-metrics.ts';

export type { Logger } from 'pino';

export interface LoggerOptions {
  readonly level: LogConfig['level'];
  /** Written as `name` on every line, e.g. the node name or "meshlet-control". */
  readonly name: string;
}

/** `destination` defaults to stdout; tests pass an in-memory stream. */
export function createLogger(options: LoggerOptions, destination?: DestinationStream): Logger {
  const pinoOptions = {
    level: options.level,
    name: options.name,
    // Level names rather than pino's numbers, so log pipelines can filter on "warn".
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return destination === undefined ? pino(pinoOptions) : pino(pinoOptions, destination);
}

export interface AccessLogEntry {
  readonly upstream: string;
  /** inbound: a call to a local service (services[]); outbound: to an upstream. */
  readonly direction: 'inbound' | 'outbound';
  /** The endpoint of the last attempt; null when none was picked (fallback, shed, no endpoint). */
  readonly endpoint: string | null;
  readonly method: string;
  readonly path: string;
  /** What the client was given. */
  readonly status: number;
  /** For gRPC: the status the client was given (the upstream's, or the agent's own error's). */
  readonly grpc_status?: number;
  /** Attempts made against endpoints, the transparent retry included; 0 when none was picked. */
  readonly attempts: number;
  readonly durationMs: number;
  /** Response body bytes sent to the client. */
  readonly bytes: number;
  readonly protocol: WireProtocol;
  /** Stable error code, e.g. MESHLET_CONNECT_FAILED, when the request met one. */
  readonly error?: string;
}

/**
 * One JSON line per proxied request, built only when config `log.access` is true. The line is
 * logged at info on a child bound once, and written whatever the main log level is: turning
 * the access log on is itself the request to see these lines.
 */
export class AccessLog {
  private readonly lines: Logger;

  constructor(logger: Logger) {
    this.lines = logger.child({ log: 'access' }, { level: 'info' });
  }

  record(entry: AccessLogEntry): void {
    this.lines.info(entry);
  }
}
