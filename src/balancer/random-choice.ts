// Random choices for the pickers, allocation-free on the request path.

import type { Random } from '../clock.ts';

/** A uniform index in [0, n); n must be positive. */
export function randomIndex(random: Random, n: number): number {
  const i = Math.floor(random() * n);
  return i < n ? i : n - 1;
}

/**
 * Draws distinct indices in [0, n) by a partial Fisher–Yates shuffle over a permutation kept
 * between picks: draw(0), draw(1), … draw(k-1) are k distinct uniform choices, k ≤ n.
 */
export class DistinctChoices {
  private readonly order: Int32Array;

  constructor(
    private readonly n: number,
    private readonly random: Random,
  ) {
    this.order = new Int32Array(n);
    for (let i = 0; i < n; i++) this.order[i] = i;
  }

  draw(step: number): number {
    const j = step + randomIndex(this.random, this.n - step);
    const chosen = this.order[j]!;
    this.order[j] = this.order[step]!;
    this.order[step] = chosen;
    return chosen;
  }
}
