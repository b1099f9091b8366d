// wrk and h2load print durations as "54.00us", "2.58ms", "2.10s", "1.00m"; sizes are not needed.
const MS_PER_UNIT: Readonly<Record<string, number>> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDurationMs(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (!match) throw new Error(`not a duration: ${JSON.stringify(text)}`);
  return Number(match[1]) * (MS_PER_UNIT[match[2] as string] as number);
}
