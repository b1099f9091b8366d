// One bucket rotation for every circuit breaker of a clock: opossum rotates a breaker's rolling
// window on a 'rotate' event of its rotateBucketController, so all breakers listen to one
// EventEmitter driven by one Clock interval, instead of an interval per endpoint. The interval
// runs only while some breaker listens.

import { EventEmitter } from 'node:events';
import type { Clock, TimerHandle } from '../clock.ts';
import { BREAKER_BUCKET_MS } from '../config/defaults.ts';

export class BreakerRotation {
  /** The rotateBucketController every breaker is built with. */
  readonly controller = new EventEmitter();
  private users = 0;
  private timer: TimerHandle | undefined;

  constructor(private readonly clock: Clock) {
    // One listener per breaker: thousands of endpoints are no leak.
    this.controller.setMaxListeners(0);
  }

  /** A breaker starts listening; the first one starts the interval. */
  retain(): void {
    if (this.users++ > 0) return;
    this.timer = this.clock.setInterval(() => this.controller.emit('rotate'), BREAKER_BUCKET_MS);
    this.timer.unref();
  }

  /** A breaker shut down; the last one stops the interval. */
  release(): void {
    if (--this.users > 0 || this.timer === undefined) return;
    this.clock.clearInterval(this.timer);
    this.timer = undefined;
  }

  get listeners(): number {
    return this.users;
  }
}

const ROTATIONS = new WeakMap<Clock, BreakerRotation>();

/** The one rotation of `clock`: every breaker timed by the same clock shares it. */
export function rotationOf(clock: Clock): BreakerRotation {
  let rotation = ROTATIONS.get(clock);
  if (rotation === undefined) {
    rotation = new BreakerRotation(clock);
    ROTATIONS.set(clock, rotation);
  }
  return rotation;
}
