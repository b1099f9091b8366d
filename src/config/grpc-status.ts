// gRPC status codes by name, the one list the config (fallback.grpcStatus), the metrics
// (grpc_status label) and the agent's own errors share. Free of zod, so the running agent
// can load it.

/** gRPC status names, indexed by code (grpc/doc/statuscodes.md). */
export const GRPC_STATUS_NAMES = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND',
  'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED',
  'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
] as const;

export type GrpcStatusName = (typeof GRPC_STATUS_NAMES)[number];

export function grpcStatusCode(name: GrpcStatusName): number {
  return GRPC_STATUS_NAMES.indexOf(name);
}
