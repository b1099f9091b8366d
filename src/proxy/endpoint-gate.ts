// How many requests one endpoint's forwarder has on the wire at once, and a bounded queue for
// the rest. Waiting requests start on the next turn of the event loop, never inside the read
// that brought them: a client's reset that arrived in the same read (HTTP/2 rapid reset) has
// then cancelled them already, and a cancelled request leaves the queue without reaching the
// endpoint.

export interface GatedRequest {
  /** Called once, when the request may go on the wire. */
  send(): void;
}

export class EndpointGate<T extends GatedRequest> {
  private active = 0;
  private readonly waiting = new Set<T>();
  private scheduled = false;
  private readonly onEmpty: (() => void)[] = [];

  /** `capacity()` is read at every start, so it may follow what the endpoint announces. */
  constructor(
    private readonly capacity: () => number,
    private readonly maxQueued: number,
  ) {}

  /** Queues the request; false when the queue is full (the caller answers with an overflow). */
  enter(request: T): boolean {
    if (this.waiting.size >= this.maxQueued) return false;
    this.waiting.add(request);
    this.schedule();
    return true;
  }

  /** Takes a request out of the queue; false when it was not waiting (it is on the wire or done). */
  withdraw(request: T): boolean {
    const waited = this.waiting.delete(request);
    if (waited) this.notifyIfEmpty();
    return waited;
  }

  /** Resolves once no request waits: a forwarder closes its connections only after that. */
  whenEmpty(): Promise<void> {
    if (this.waiting.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.onEmpty.push(resolve));
  }

  /** A request that was sent has finished, however it ended. */
  readonly release = (): void => {
    this.active--;
    if (this.waiting.size > 0) this.schedule();
  };

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.startWaiting);
  }

  private readonly startWaiting = (): void => {
    this.scheduled = false;
    const capacity = this.capacity();
    for (const request of this.waiting) {
      if (this.active >= capacity) return;
      this.waiting.delete(request);
      this.active++;
      request.send();
    }
    this.notifyIfEmpty();
  };

  private notifyIfEmpty(): void {
    if (this.waiting.size > 0) return;
    for (const resolve of this.onEmpty.splice(0)) resolve();
  }
}
