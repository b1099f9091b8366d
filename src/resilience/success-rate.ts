// Success-rate outliers, judged once per interval over the calls each endpoint answered.
//
// Envoy's rule ejects a host whose rate is below mean − stdevFactor × stdev of all hosts with
// enough volume, from five hosts on. Over three hosts it cannot catch the classic bad instance:
// one answering 500 to every second call gives rates [100, 100, 50], mean 83.3, stdev 23.6, so
// the threshold is 83.3 − 1.9 × 23.6 = 38.5 and the 50 % host stays. The bad host is in its own
// yardstick: its rate drags the mean down and widens the stdev that was to expose it. So here
// each host is judged against its peers without itself: peers [100, 100] have mean 100 and
// stdev 0, and the host is an outlier below 100 − max(1.9 × 0, minimumGap). The gap's floor is
// what keeps peers at exactly 100 % from ejecting a host for one stray error: with the default
// 10 points, a host must lose a tenth of its calls more than its peers do. When the peers
// disagree among themselves (their stdev is wide) the threshold falls with them, so noise in
// the group protects every host, as in Envoy.

import type { SuccessRateConfig } from '../config/types.ts';

export interface CallCounts {
  readonly successes: number;
  readonly failures: number;
}

export interface SuccessRateOutlier {
  /** Index into the counts given. */
  readonly index: number;
  /** Percent. */
  readonly rate: number;
  readonly calls: number;
  /** Percent: below it the host is an outlier. */
  readonly threshold: number;
  /** Percent: the mean rate of its judged peers. */
  readonly peerMean: number;
}

/** The outliers among `counts`, worst first; none when fewer than minimumHosts have requestVolume (at least 1) calls. */
export function successRateOutliers(counts: readonly CallCounts[], rule: SuccessRateConfig): SuccessRateOutlier[] {
  const judged: { index: number; rate: number; calls: number }[] = [];
  counts.forEach(({ successes, failures }, index) => {
    const calls = successes + failures;
    if (calls >= rule.requestVolume) judged.push({ index, rate: (100 * successes) / calls, calls });
  });
  if (judged.length < Math.max(2, rule.minimumHosts)) return [];
  const sum = judged.reduce((total, h) => total + h.rate, 0);
  const sumOfSquares = judged.reduce((total, h) => total + h.rate * h.rate, 0);
  const peers = judged.length - 1;
  const outliers: SuccessRateOutlier[] = [];
  for (const host of judged) {
    const peerMean = (sum - host.rate) / peers;
    // Population variance of the peers; clamped, as rounding can take it a hair below zero.
    const variance = Math.max(0, (sumOfSquares - host.rate * host.rate) / peers - peerMean * peerMean);
    const threshold = peerMean - Math.max(rule.stdevFactor * Math.sqrt(variance), rule.minimumGap);
    if (host.rate < threshold) outliers.push({ ...host, threshold, peerMean });
  }
  return outliers.sort((a, b) => a.rate - b.rate);
}
