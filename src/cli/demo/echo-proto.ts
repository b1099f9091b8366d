// proto/demo/v1/echo.proto and the standard health proto, loaded for the sample gRPC server,
// the demo's client and the tests' client.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { join } from 'node:path';
import { repoRoot } from './repo-root.ts';

const protoRoot = join(repoRoot, 'proto');

export interface EchoRequest {
  message: string;
  count: number;
  delayMs: number;
  failCode: number;
}

export interface EchoReply {
  message: string;
  instance: string;
  index: number;
}

export type HealthStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

/** A demo.v1.Echo client; every call takes metadata and options so overloads stay out. */
export interface EchoClient extends grpc.Client {
  Unary(
    request: Partial<EchoRequest>, metadata: grpc.Metadata, options: grpc.CallOptions,
    callback: grpc.requestCallback<EchoReply>,
  ): grpc.ClientUnaryCall;
  ServerStream(
    request: Partial<EchoRequest>, metadata: grpc.Metadata, options: grpc.CallOptions,
  ): grpc.ClientReadableStream<EchoReply>;
  ClientStream(
    metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<EchoReply>,
  ): grpc.ClientWritableStream<Partial<EchoRequest>>;
  Bidi(metadata: grpc.Metadata, options: grpc.CallOptions): grpc.ClientDuplexStream<Partial<EchoRequest>, EchoReply>;
}

export interface HealthClient extends grpc.Client {
  Check(
    request: { service: string }, metadata: grpc.Metadata, options: grpc.CallOptions,
    callback: grpc.requestCallback<{ status: HealthStatus }>,
  ): grpc.ClientUnaryCall;
}

export interface DemoProtos {
  readonly Echo: grpc.ServiceClientConstructor;
  readonly Health: grpc.ServiceClientConstructor;
}

export const echoServiceName = 'demo.v1.Echo';

export function loadDemoProtos(): DemoProtos {
  const definition = protoLoader.loadSync(['demo/v1/echo.proto', 'grpc/health/v1/health.proto'], {
    includeDirs: [protoRoot],
    keepCase: false,
    defaults: true,
    enums: String,
  });
  const root = grpc.loadPackageDefinition(definition) as unknown as {
    demo: { v1: { Echo: grpc.ServiceClientConstructor } };
    grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
  };
  return { Echo: root.demo.v1.Echo, Health: root.grpc.health.v1.Health };
}

export function createEchoClient(protos: DemoProtos, address: string, options?: grpc.ChannelOptions): EchoClient {
  return new protos.Echo(address, grpc.credentials.createInsecure(), options) as unknown as EchoClient;
}

export function createHealthClient(protos: DemoProtos, address: string): HealthClient {
  return new protos.Health(address, grpc.credentials.createInsecure()) as unknown as HealthClient;
}
