// The gRPC deadline on the wire (PROTOCOL-HTTP2.md): "grpc-timeout: 1-8 digits and a unit"
// (H, M, S, m, u, n). An incoming one caps the call's timeout; each attempt is sent what is
// left of it, so the endpoint gives up when the client would, not later.

const MS_PER_UNIT: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000_001 };

const GRPC_TIMEOUT = /^(\d{1,8})([HMSmun])$/;

/** Milliseconds, or undefined for a value that is not a grpc-timeout (ignored, as grpc-js ignores it). */
export function parseGrpcTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = GRPC_TIMEOUT.exec(value);
  return match === null ? undefined : Number(match[1]) * MS_PER_UNIT[match[2]!]!;
}

/** The largest value 8 digits of milliseconds carry (~27 h); longer deadlines go in seconds. */
const MAX_MS_DIGITS = 99_999_999;

/** `ms` as a grpc-timeout, rounded up to a whole millisecond so that a live deadline never reads as 0. */
export function formatGrpcTimeout(ms: number): string {
  const whole = Math.max(1, Math.ceil(ms));
  return whole <= MAX_MS_DIGITS ? `${whole}m` : `${Math.min(MAX_MS_DIGITS, Math.ceil(whole / 1000))}S`;
}
