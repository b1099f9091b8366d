// A demo.v1.Echo client for tests, with promise helpers for the calls whose shape repeats.
import * as grpc from '@grpc/grpc-js';
import {
  createEchoClient, createHealthClient, loadDemoProtos,
  type EchoClient, type EchoReply, type EchoRequest, type HealthClient,
} from '../../src/cli/demo/echo-proto.ts';

export type { EchoClient, EchoReply, EchoRequest, HealthClient } from '../../src/cli/demo/echo-proto.ts';

const protos = loadDemoProtos();

export function echoClient(address: string, options?: grpc.ChannelOptions): EchoClient {
  return createEchoClient(protos, address, options);
}

export function healthClient(address: string): HealthClient {
  return createHealthClient(protos, address);
}

export interface UnaryResult {
  readonly reply: EchoReply;
  readonly headers: grpc.Metadata;
  readonly trailers: grpc.Metadata;
}

export interface CallOptions {
  readonly metadata?: grpc.Metadata;
  /** Milliseconds from now. */
  readonly deadlineMs?: number;
}

/** One Unary call; rejects with the grpc.ServiceError (code, details, metadata) on failure. */
export function unary(client: EchoClient, request: Partial<EchoRequest>, options: CallOptions = {}): Promise<UnaryResult> {
  return new Promise((resolve, reject) => {
    let headers = new grpc.Metadata();
    let reply: EchoReply | undefined;
    const call = client.Unary(request, options.metadata ?? new grpc.Metadata(), callOptions(options), (error, value) => {
      if (error) reject(error);
      else reply = value;
    });
    call.on('metadata', (md) => (headers = md));
    // grpc-js calls back before it emits the status, which carries the trailers.
    call.on('status', (status) => {
      if (reply) resolve({ reply, headers, trailers: status.metadata });
    });
  });
}

/** Collects every reply of a server stream; rejects with the stream's error. */
export async function serverStream(client: EchoClient, request: Partial<EchoRequest>, options: CallOptions = {}): Promise<EchoReply[]> {
  const replies: EchoReply[] = [];
  const call = client.ServerStream(request, options.metadata ?? new grpc.Metadata(), callOptions(options));
  for await (const reply of call as AsyncIterable<EchoReply>) replies.push(reply);
  return replies;
}

function callOptions(options: CallOptions): grpc.CallOptions {
  return options.deadlineMs === undefined ? {} : { deadline: Date.now() + options.deadlineMs };
}
