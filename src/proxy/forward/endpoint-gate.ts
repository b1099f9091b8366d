// How many requests one endpoint's forwarder has on the wire at once, and a bounded queue for
// the rest. A request that may be reset in the read that brought it (an HTTP/2 stream: rapid
// reset) starts on the next turn of the event loop, never inside that read: the client's
// reset has then cancelled it already, and a cancelled request leaves the queue without
// reaching the endpoint. Any other request goes on the wire at once when there is room and
// nobody waits before it: deferring every request costs HTTP/1.1 a third of its throughput.

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

  /**
   * Sends the request now when `deferred` is false, there is room and none waits; queues it
   * otherwise. False when the queue is full (the caller answers with an overflow).
   */
  enter(request: T, deferred: boolean): boolean {
    if (!deferred && this.waiting.size === 0 && this.active < this.capacity()) {
      this.active++;
      request.send();
      return true;
    }
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
