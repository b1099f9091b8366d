// The gRPC sample upstream: demo.v1.Echo, where each request says how many replies, how slow
// and which status to fail with, plus grpc.health.v1. Every reply's headers and every
// trailer block carry x-instance. Failures are sent before any header, as a trailers-only
// response, so a proxy may still retry them.
import * as grpc from '@grpc/grpc-js';
import { delay } from './upstream-behaviour.ts';
import { echoServiceName, loadDemoProtos, type EchoReply, type EchoRequest } from './echo-proto.ts';

/** Starts listening; resolves with the bound port. */
export async function listenGrpcUpstream(instance: string, host: string, port: number): Promise<number> {
  const protos = loadDemoProtos();
  const server = new grpc.Server();
  server.addService(protos.Echo.service, echoHandlers(instance));
  server.addService(protos.Health.service, healthHandlers());
  return new Promise((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
      if (err) reject(err);
      else resolve(bound);
    });
  });
}

function echoHandlers(instance: string): grpc.UntypedServiceImplementation {
  const withInstance = (): grpc.Metadata => {
    const md = new grpc.Metadata();
    md.set('x-instance', instance);
    return md;
  };
  const failure = (code: number): grpc.ServiceError => {
    const details = `${instance} failed with code ${code} as asked`;
    return Object.assign(new Error(details), { code, details, metadata: withInstance() });
  };
  const reply = (message: string, index: number): EchoReply => ({ message, instance, index });

  return {
    async Unary(call: grpc.ServerUnaryCall<EchoRequest, EchoReply>, callback: grpc.sendUnaryData<EchoReply>) {
      const request = call.request;
      await delay(request.delayMs);
      if (request.failCode !== 0) {
        callback(failure(request.failCode));
        return;
      }
      call.sendMetadata(withInstance());
      callback(null, reply(request.message, 0), withInstance());
    },

    async ServerStream(call: grpc.ServerWritableStream<EchoRequest, EchoReply>) {
      const request = call.request;
      const count = Math.max(1, request.count);
      for (let index = 0; index < count; index++) {
        await delay(request.delayMs);
        if (call.cancelled) return;
        if (index === 0) call.sendMetadata(withInstance());
        call.write(reply(request.message, index));
      }
      if (request.failCode !== 0) call.emit('error', failure(request.failCode));
      else call.end(withInstance());
    },

    ClientStream(call: grpc.ServerReadableStream<EchoRequest, EchoReply>, callback: grpc.sendUnaryData<EchoReply>) {
      let message = '';
      let received = 0;
      let failCode = 0;
      let delayMs = 0;
      call.on('data', (request: EchoRequest) => {
        message += request.message;
        received++;
        failCode = request.failCode || failCode;
        delayMs = Math.max(delayMs, request.delayMs);
      });
      call.on('end', async () => {
        await delay(delayMs);
        if (failCode !== 0) {
          callback(failure(failCode));
          return;
        }
        call.sendMetadata(withInstance());
        callback(null, reply(message, received), withInstance());
      });
    },

    async Bidi(call: grpc.ServerDuplexStream<EchoRequest, EchoReply>) {
      let index = 0;
      // destroyOnReturn: false, or finishing the loop would destroy the writable side too.
      for await (const request of call.iterator({ destroyOnReturn: false }) as AsyncIterable<EchoRequest>) {
        await delay(request.delayMs);
        if (call.cancelled) return;
        if (request.failCode !== 0) {
          call.emit('error', failure(request.failCode));
          return;
        }
        if (index === 0) call.sendMetadata(withInstance());
        call.write(reply(request.message, index++));
      }
      call.end(withInstance());
    },
  };
}

function healthHandlers(): grpc.UntypedServiceImplementation {
  const statusOf = (service: string): 'SERVING' | undefined =>
    service === '' || service === echoServiceName ? 'SERVING' : undefined;
  return {
    Check(call: grpc.ServerUnaryCall<{ service: string }, unknown>, callback: grpc.sendUnaryData<unknown>) {
      const status = statusOf(call.request.service);
      if (status) callback(null, { status });
      else callback({ code: grpc.status.NOT_FOUND, details: `unknown service ${call.request.service}` });
    },
    Watch(call: grpc.ServerWritableStream<{ service: string }, unknown>) {
      // The status never changes while the process lives, so one message and an open stream.
      call.write({ status: statusOf(call.request.service) ?? 'SERVICE_UNKNOWN' });
    },
  };
}
