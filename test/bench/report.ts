/** One benchmark figure, printed as a JSON line on stdout. */
export function report(metric: string, value: number, unit: string): void {
  process.stdout.write(`${JSON.stringify({ metric, value: Number(value.toFixed(3)), unit })}\n`);
}

export function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}
