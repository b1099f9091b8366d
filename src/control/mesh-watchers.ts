// The WatchMesh streams: every mesh event goes to each watcher. Bounded twice: at most
// maxWatchers at once, and a watcher whose stream holds more than maxBacklog unsent events
// (it reads slower than the mesh changes) is dropped rather than allowed to grow memory.
import * as grpc from '@grpc/grpc-js';
import type { MeshEvent } from './control-proto.ts';

export interface MeshWatcher {
  /** Queues the event on the stream. */
  write(event: MeshEvent): void;
  /** Events queued on the stream and not yet sent. */
  backlog(): number;
  /** Ends the stream with this status. */
  drop(code: grpc.status, reason: string): void;
}

export class MeshWatchers {
  private readonly watchers = new Set<MeshWatcher>();

  constructor(
    private readonly maxWatchers: number,
    private readonly maxBacklog: number,
    private readonly onDropped: () => void = () => undefined,
  ) {}

  get size(): number {
    return this.watchers.size;
  }

  /** Adds a watcher; false when the limit is reached. */
  add(watcher: MeshWatcher): boolean {
    if (this.watchers.size >= this.maxWatchers) return false;
    this.watchers.add(watcher);
    return true;
  }

  remove(watcher: MeshWatcher): void {
    this.watchers.delete(watcher);
  }

  /** Ends every watch (the server is shutting down). */
  closeAll(reason: string): void {
    for (const watcher of this.watchers) watcher.drop(grpc.status.UNAVAILABLE, reason);
    this.watchers.clear();
  }

  publish(event: MeshEvent): void {
    for (const watcher of this.watchers) {
      if (watcher.backlog() >= this.maxBacklog) {
        this.watchers.delete(watcher);
        this.onDropped();
        watcher.drop(grpc.status.RESOURCE_EXHAUSTED, `this watcher fell ${this.maxBacklog} events behind; watch again (GetMeshStatus gives the state to start from)`);
      } else {
        watcher.write(event);
      }
    }
  }
}
