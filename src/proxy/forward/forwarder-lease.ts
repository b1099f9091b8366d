// A holder's share of a forwarder: the endpoint state of each upstream naming that endpoint
// holds one. The forwarder closes (gracefully: what is in flight finishes) when its last
// lease is released; settings the connections do not depend on travel with the lease (a
// holder whose settings change takes a new lease on the same forwarder, then drops the old).

import type { Forwarder, ForwarderSettings } from './forwarder.ts';

/** One forwarder and the leases on it. */
export class SharedForwarder {
  private readonly leases = new Set<ForwarderLease>();

  constructor(
    readonly forwarder: Forwarder,
    private readonly onUnused: (shared: SharedForwarder) => void,
  ) {}

  lease(settings: ForwarderSettings): ForwarderLease {
    const lease = new ForwarderLease(this, settings);
    this.leases.add(lease);
    this.applySettings();
    return lease;
  }

  /** @internal by ForwarderLease */
  released(lease: ForwarderLease): void {
    if (!this.leases.delete(lease)) return;
    if (this.leases.size === 0) this.onUnused(this);
    else this.applySettings();
  }

  /**
   * Two upstreams may name one endpoint with different connect timeouts: the shorter one
   * holds, so no upstream waits on a connect longer than it asked.
   */
  applySettings(): void {
    let connectTimeoutMs = Infinity;
    for (const lease of this.leases) connectTimeoutMs = Math.min(connectTimeoutMs, lease.settings.connectTimeoutMs);
    if (connectTimeoutMs !== Infinity) this.forwarder.applySettings({ connectTimeoutMs });
  }
}

export class ForwarderLease {
  constructor(
    private readonly shared: SharedForwarder,
    readonly settings: ForwarderSettings,
  ) {}

  get forwarder(): Forwarder {
    return this.shared.forwarder;
  }

  /** Idempotent; the last release closes the forwarder once its requests are done. */
  release(): void {
    this.shared.released(this);
  }
}
