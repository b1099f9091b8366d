// Earliest-deadline-first scheduling, as Envoy's EdfScheduler: an item of weight w is due
// again 1/w after it was last due, so over time each is chosen in proportion to its weight.
// A binary heap over typed arrays; choosing and rescheduling allocate nothing.

export class EdfScheduler {
  /** Heap position → item. */
  private readonly heap: Int32Array;
  /** Item → when it is next due. */
  private readonly deadlines: Float64Array;
  /** Item → when it was (re)scheduled, so equal deadlines go first-come, first-served. */
  private readonly stamps: Float64Array;
  private sequence = 0;

  constructor(weights: ArrayLike<number>) {
    const n = weights.length;
    this.heap = new Int32Array(n);
    this.deadlines = new Float64Array(n);
    this.stamps = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      this.heap[i] = i;
      this.deadlines[i] = 1 / weights[i]!;
      this.stamps[i] = this.sequence++;
    }
    for (let i = (n >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  /** The item due first; the scheduler must not be empty. */
  peek(): number {
    return this.heap[0]!;
  }

  /** Reschedules the item due first, 1/weight after its deadline. */
  advance(weight: number): void {
    const item = this.heap[0]!;
    this.deadlines[item] = this.deadlines[item]! + 1 / weight;
    this.stamps[item] = this.sequence++;
    this.siftDown(0);
  }

  private before(a: number, b: number): boolean {
    const da = this.deadlines[a]!;
    const db = this.deadlines[b]!;
    return da < db || (da === db && this.stamps[a]! < this.stamps[b]!);
  }

  private siftDown(position: number): void {
    const heap = this.heap;
    const n = heap.length;
    const item = heap[position]!;
    for (;;) {
      let child = 2 * position + 1;
      if (child >= n) break;
      if (child + 1 < n && this.before(heap[child + 1]!, heap[child]!)) child++;
      if (!this.before(heap[child]!, item)) break;
      heap[position] = heap[child]!;
      position = child;
    }
    heap[position] = item;
  }
}
