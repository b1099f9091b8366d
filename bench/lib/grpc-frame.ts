import { echoPackageDefinition, ECHO_MESSAGE } from './echo-proto.ts';
import type { MethodDefinition } from '@grpc/proto-loader';

// h2load posts a fixed body, so the gRPC request is encoded once: the length-prefixed message
// (1 byte "not compressed", 4 bytes big-endian length, then the protobuf EchoRequest).
export function encodeEchoRequestFrame(): Buffer {
  const service = echoPackageDefinition['echo.Echo'] as Record<string, MethodDefinition<{ message: string }, unknown>>;
  const echo = service['Echo'];
  if (!echo) throw new Error('echo.proto has no Echo method');
  const message = echo.requestSerialize({ message: ECHO_MESSAGE });
  const prefix = Buffer.alloc(5);
  prefix.writeUInt8(0, 0);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}
