// The reachability probe (upstream/reachability.ts): a bare TCP connect, closed as soon as it is
// up. No request is sent, so the endpoint's application sees at most a connection that closes.

import { connect } from 'node:net';
import type { ConnectProbe } from '../upstream/reachability.ts';

export const tcpConnectProbe: ConnectProbe = (host, port, timeoutMs) =>
  new Promise((resolve) => {
    const socket = connect({ host, port });
    const settle = (connected: boolean): void => {
      socket.destroy();
      resolve(connected);
    };
    // The idle timeout covers the connect too, and needs no timer of the probe's own.
    socket.setTimeout(timeoutMs);
    socket.once('connect', () => settle(true));
    socket.once('timeout', () => settle(false));
    socket.on('error', () => settle(false));
  });
