// CONNECT on the proxy listener (grpc-js's grpc_proxy, HTTPS_PROXY-style clients): the agent
// does not pipe bytes to one instance; it answers 200 and then speaks HTTP/1.1 or h2c on the
// tunnel itself, balancing every request inside it over the named upstream.

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { MeshletMetrics } from '../../observability/metrics.ts';
import { routingName } from '../route/authority.ts';
import type { HttpFrontend } from './frontend.ts';
import { endWithRawResponse } from './raw-response.ts';
import { sniffAndServe } from './sniff.ts';

export function connectHandler(
  frontendFor: (upstreamName: string) => HttpFrontend | undefined,
  metrics: MeshletMetrics,
  listenerName: string,
) {
  return (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    // node:http has taken its own error listener off a socket it hands to 'connect': without
    // one, a client's reset (even after reading the answer) would be an uncaught error.
    socket.on('error', destroyOnError);
    const target = req.url ?? '';
    const frontend = frontendFor(routingName(target));
    if (!frontend) {
      metrics.malformedRequest(listenerName, 'unknown_host');
      endWithRawResponse(socket, 404, 'Not Found', 'MESHLET_UNKNOWN_HOST', `meshlet: no upstream named "${target}"\n`);
      return;
    }
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length > 0) socket.unshift(head);
    sniffAndServe(socket, frontend);
  };
}

function destroyOnError(this: Duplex): void {
  this.destroy();
}
