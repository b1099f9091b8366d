// What an upstream's policy.fallback becomes once per config: the static answer built whole
// (headers, body bytes, the gRPC status as a number), the stale-if-error cache, and the reason
// its decisions give, so serving a fallback builds nothing but the header object the sink takes.

import type { OutgoingHttpHeaders } from 'node:http';
import type { Clock } from '../clock.ts';
import { grpcStatusCode, type GrpcStatusName } from '../config/grpc-status.ts';
import type { FallbackConfig } from '../config/types.ts';
import type { FallbackKind } from '../proxy/call/proxy-call.ts';
import type { ProxyErrorCode } from '../proxy/errors.ts';
import { encodeGrpcMessage } from '../proxy/grpc-message.ts';
import { StaleCache } from './stale-cache.ts';

/** The response header that marks a fallback, with what kind it is. */
export const FALLBACK_HEADER = 'x-meshlet-fallback';

export interface StaticFallback {
  /** A trailers-only gRPC answer (grpc-status in the head), or an HTTP response. */
  readonly grpc: boolean;
  readonly status: number;
  /** Copied per answer: sinks write into the object they are given. */
  readonly headers: Readonly<OutgoingHttpHeaders>;
  readonly body: Buffer | undefined;
  readonly grpcStatus: number | undefined;
}

export class FallbackPlan {
  readonly staticResponse: StaticFallback | undefined;
  readonly stale: StaleCache | undefined;
  /** The latest fallback served, read only when its decision is published (decisions.ts coalesces them). */
  private lastKind: FallbackKind = 'static';
  private lastCause: ProxyErrorCode = 'MESHLET_UPSTREAM_RESET';
  private lastMessage = '';

  constructor(config: FallbackConfig, clock: Clock) {
    this.stale = 'staleIfError' in config && config.staleIfError !== undefined ? new StaleCache(clock, config.staleIfError) : undefined;
    this.staticResponse = staticFallback(config);
  }

  /** A fallback of `kind` was served in place of `cause`. */
  served(kind: FallbackKind, cause: ProxyErrorCode, message: string): void {
    this.lastKind = kind;
    this.lastCause = cause;
    this.lastMessage = message;
  }

  /** Bound once, so recording a decision per fallback builds no closure. */
  readonly reason = (): string => {
    const answer = this.lastKind === 'stale' ? 'a stale response (stale-if-error)' : this.describeStatic();
    return `served ${answer} in place of ${this.lastCause}: ${this.lastMessage}`;
  };

  private describeStatic(): string {
    const response = this.staticResponse;
    if (response === undefined) return 'nothing';
    return response.grpc ? `the static fallback (grpc-status ${response.grpcStatus})` : `the static fallback (${response.status})`;
  }
}

function staticFallback(config: FallbackConfig): StaticFallback | undefined {
  if ('grpcStatus' in config) {
    const grpcStatus = grpcStatusCode(config.grpcStatus as GrpcStatusName);
    const headers: OutgoingHttpHeaders = { 'content-type': 'application/grpc', 'grpc-status': String(grpcStatus), [FALLBACK_HEADER]: 'static' };
    if (config.message !== undefined) headers['grpc-message'] = encodeGrpcMessage(config.message);
    return { grpc: true, status: 200, headers, body: undefined, grpcStatus };
  }
  if (!('status' in config)) return undefined;
  const body = config.body !== undefined && config.body !== '' ? Buffer.from(config.body, 'utf8') : undefined;
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(config.headers)) headers[name.toLowerCase()] = value;
  headers['content-length'] = String(body?.length ?? 0);
  headers[FALLBACK_HEADER] = 'static';
  return { grpc: false, status: config.status, headers, body, grpcStatus: undefined };
}
