// A TCP listener that serves HTTP/1.1 and h2c on one port through a frontend. It holds at most
// maxConnections client connections, and no more than the process's budget allows: at the
// cap, a newcomer takes the place of the connection that has waited longest without a request
// (a slow or silent client), or is closed at once when every connection is busy.

import net from 'node:net';
import { formatHostPort } from '../../config/address.ts';
import type { HostPort } from '../../config/types.ts';
import type { ConnectionBudget } from './connection-budget.ts';
import type { CallTarget } from '../call/call-target.ts';
import type { HttpFrontend } from './frontend.ts';
import { sniffAndServe } from './sniff.ts';

export interface ListenerLimits {
  readonly maxConnections: number;
  readonly budget: ConnectionBudget;
  /** A connection closed on arrival at the cap. */
  readonly rejected: (listener: string) => void;
}

export class Listener {
  private readonly server: net.Server;
  private bound: string | undefined;
  private open = 0;

  constructor(
    readonly name: string,
    readonly listen: HostPort,
    private readonly frontend: HttpFrontend<CallTarget>,
    private readonly limits: ListenerLimits,
    onAcceptError: (listener: string, err: Error) => void,
  ) {
    this.server = net.createServer({ noDelay: true }, this.onConnection);
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

  get openConnections(): number {
    return this.open;
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

  private readonly onConnection = (socket: net.Socket): void => {
    const { budget } = this.limits;
    const full = this.open >= this.limits.maxConnections || !budget.hasRoom;
    if (full && !this.frontend.evictWaiting()) {
      socket.destroy();
      this.limits.rejected(this.name);
      return;
    }
    this.open++;
    budget.take();
    socket.once('close', this.onClose);
    sniffAndServe(socket, this.frontend);
  };

  private readonly onClose = (): void => {
    this.open--;
    this.limits.budget.give();
  };
}
