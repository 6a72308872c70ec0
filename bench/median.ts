/** The median of a non-empty list (the upper middle one for an even count), the bench's one summary statistic. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}
