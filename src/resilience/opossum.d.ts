// The part of opossum 9 (CommonJS, no typings of its own) the breakers use: its rolling
// window (Status, rotated by a shared controller) and its open → half-open reset timer.
declare module 'opossum' {
  import type { EventEmitter } from 'node:events';

  namespace CircuitBreaker {
    interface Options {
      timeout?: number | false;
      resetTimeout?: number;
      errorThresholdPercentage?: number;
      volumeThreshold?: number;
      rollingCountTimeout?: number;
      rollingCountBuckets?: number;
      rollingPercentilesEnabled?: boolean;
      enableSnapshots?: boolean;
      rotateBucketController?: EventEmitter;
      allowWarmUp?: boolean;
      name?: string;
    }

    interface Bucket {
      readonly fires: number;
      readonly failures: number;
      readonly successes: number;
    }

    interface Status {
      increment(property: 'fires' | 'failures' | 'successes', latency?: number): void;
      /** A copy of the window's bucket array, newest first; the buckets themselves are live. */
      readonly window: readonly Bucket[];
    }
  }

  class CircuitBreaker extends EventEmitter {
    constructor(action: () => unknown, options?: CircuitBreaker.Options);
    readonly options: CircuitBreaker.Options & { resetTimeout: number };
    readonly status: CircuitBreaker.Status;
    readonly opened: boolean;
    readonly halfOpen: boolean;
    readonly closed: boolean;
    open(): void;
    close(): void;
    shutdown(): void;
  }

  export = CircuitBreaker;
}
