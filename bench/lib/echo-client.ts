import { credentials, type Client } from '@grpc/grpc-js';
import { echoServiceClient, ECHO_MESSAGE } from './echo-proto.ts';

type Unary<Req, Res> = (request: Req, options: { deadline: Date }, callback: (error: Error | null, response?: Res) => void) => void;

const DEADLINE_MS = 3000;

async function callOnce<Req, Res>(port: number, method: 'Echo' | 'Served', request: Req): Promise<Res> {
  const EchoClient = echoServiceClient();
  const client = new EchoClient(`127.0.0.1:${port}`, credentials.createInsecure()) as Client & Record<string, Unary<Req, Res>>;
  try {
    return await new Promise<Res>((resolve, reject) => {
      const call = client[method] as Unary<Req, Res>;
      call.call(client, request, { deadline: new Date(Date.now() + DEADLINE_MS) }, (error, response) => {
        if (error || response === undefined) reject(error ?? new Error('no response'));
        else resolve(response);
      });
    });
  } finally {
    client.close();
  }
}

/** One Echo call through grpc-js; fails unless it ends with grpc-status 0 and the message comes back. */
export async function echoOnce(port: number): Promise<void> {
  const reply = await callOnce<{ message: string }, { message: string }>(port, 'Echo', { message: ECHO_MESSAGE });
  if (reply.message !== ECHO_MESSAGE) throw new Error(`echo returned ${JSON.stringify(reply.message)}`);
}

/** How many Echo calls the gRPC upstream has answered so far. */
export async function servedCount(upstreamPort: number): Promise<number> {
  const reply = await callOnce<Record<string, never>, { count: number }>(upstreamPort, 'Served', {});
  return Number(reply.count);
}
