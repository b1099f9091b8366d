// The client connections the whole process may hold, shared by every listener, so that
// accepting never runs into the descriptor limit (EMFILE): a listener that hits EMFILE stops
// answering anyone, while one at its cap closes the newcomer (or the longest-idle connection)
// and keeps serving the rest.

/** Descriptors kept for everything that is not a client connection: stdio, admin, logs, DNS, config. */
export const RESERVED_DESCRIPTORS = 64;

/**
 * Half of what remains goes to client connections, half to upstream connections: an HTTP/1.1
 * request in flight holds one of each.
 */
export function clientConnectionBudget(descriptorLimit: number): number {
  if (!Number.isFinite(descriptorLimit)) return Infinity;
  return Math.max(1, Math.floor((descriptorLimit - RESERVED_DESCRIPTORS) / 2));
}

export class ConnectionBudget {
  private used = 0;

  constructor(readonly limit: number) {}

  get hasRoom(): boolean {
    return this.used < this.limit;
  }

  take(): void {
    this.used++;
  }

  give(): void {
    this.used--;
  }
}
