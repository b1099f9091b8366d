// A TCP listener that serves HTTP/1.1 and h2c on one port through a frontend.

import net from 'node:net';
import { formatHostPort } from '../config/address.ts';
import type { HostPort } from '../config/types.ts';
import type { HttpFrontend } from './frontend.ts';
import { sniffAndServe } from './sniff.ts';

export class Listener {
  private readonly server: net.Server;
  private bound: string | undefined;

  constructor(
    readonly name: string,
    readonly listen: HostPort,
    frontend: HttpFrontend,
    onAcceptError: (listener: string, err: Error) => void,
  ) {
    this.server = net.createServer({ noDelay: true }, (socket) => sniffAndServe(socket, frontend));
    // After listen() succeeds, 'error' means a failed accept (EMFILE, say): the listener keeps
    // serving, so it is reported, never thrown.
    this.server.on('error', (err) => {
      if (this.bound !== undefined) onAcceptError(name, err);
    });
  }

  /** "host:port" actually bound (port 0 in config becomes the OS's choice). */
  get address(): string {
    return this.bound ?? this.listen.text;
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host: this.listen.host, port: this.listen.port, backlog: 4096 }, () => {
        this.server.removeListener('error', reject);
        const address = this.server.address() as net.AddressInfo;
        this.bound = formatHostPort(address.address, address.port);
        resolve();
      });
    });
  }

  /** Stops accepting; connections already open are left to their frontend to drain. */
  stop(): void {
    this.server.close();
  }
}
