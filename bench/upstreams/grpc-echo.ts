// gRPC upstream (grpc-js, plaintext h2c): unary Echo, plus Served to count the Echo calls answered.
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { echoServiceClient } from '../lib/echo-proto.ts';
import { portArg } from '../lib/argv.ts';

interface EchoMessage { message: string }

let served = 0;

const server = new Server();
server.addService(echoServiceClient().service, {
  Echo(call: ServerUnaryCall<EchoMessage, EchoMessage>, callback: sendUnaryData<EchoMessage>) {
    served += 1;
    callback(null, { message: call.request.message });
  },
  Served(_call: ServerUnaryCall<unknown, { count: number }>, callback: sendUnaryData<{ count: number }>) {
    callback(null, { count: served });
  },
});
server.bindAsync(`127.0.0.1:${portArg('listen')}`, ServerCredentials.createInsecure(), (error) => {
  if (error) {
    process.stderr.write(`grpc-echo: ${error.message}\n`);
    process.exit(1);
  }
});
