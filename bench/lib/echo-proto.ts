import { fileURLToPath } from 'node:url';
import { loadSync } from '@grpc/proto-loader';
import { loadPackageDefinition, type GrpcObject, type ServiceClientConstructor } from '@grpc/grpc-js';

// One loader for the bench's echo.proto, shared by the upstream, the probes and the frame encoder.
export const ECHO_PROTO_PATH = fileURLToPath(new URL('../proto/echo.proto', import.meta.url));
export const ECHO_METHOD_PATH = '/echo.Echo/Echo';
export const ECHO_MESSAGE = 'hello';

export const echoPackageDefinition = loadSync(ECHO_PROTO_PATH, { longs: Number, defaults: true });

export function echoServiceClient(): ServiceClientConstructor {
  const echo = loadPackageDefinition(echoPackageDefinition)['echo'] as GrpcObject;
  return echo['Echo'] as ServiceClientConstructor;
}
