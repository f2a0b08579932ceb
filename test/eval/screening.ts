/**
 * `npm run eval:screening`: screens every row of the dev set (or --data FILE) and prints precision, recall
 * (TPR), FPR and F1 per source kind, per source and overall, then the worst false positives and misses.
 *   node test/eval/screening.ts [--data FILE] [--threshold T] [--worst N] [--by kind|source]
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { count, DATA_DIR, metrics, type Row, readRows } from '../../hack/screening/data.ts';
import { DEFAULT_THRESHOLD, screen } from '../../operator/src/screening/index.ts';

export interface Scored {
  row: Row;
  score: number;
  flagged: boolean;
  reasons: string[];
}

export function scoreRows(rows: readonly Row[], threshold = DEFAULT_THRESHOLD): Scored[] {
  return rows.map((row) => ({ row, ...screen(row.text, { threshold }) }));
}

export function summary(scored: readonly Scored[]) {
  return metrics(
    count(
      scored.map((s) => s.row.label),
      scored.map((s) => s.flagged),
    ),
  );
}

const pct = (x: number) => (Number.isNaN(x) ? '    -' : `${(x * 100).toFixed(1).padStart(5)}%`);

function table(title: string, groups: Map<string, Scored[]>): string[] {
  const lines = [`${title.padEnd(28)}     n   pos  precision  recall    FPR      F1`];
  for (const [name, items] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
    const m = summary(items);
    lines.push(
      `${name.padEnd(28)} ${String(m.n).padStart(5)} ${String(m.positives).padStart(5)}     ${pct(m.precision)}  ${pct(m.recall)}  ${pct(m.fpr)}  ${m.f1.toFixed(3)}`,
    );
  }
  return lines;
}

function groupBy(scored: readonly Scored[], key: (s: Scored) => string): Map<string, Scored[]> {
  const groups = new Map<string, Scored[]>();
  for (const s of scored) groups.set(key(s), [...(groups.get(key(s)) ?? []), s]);
  return groups;
}

const preview = (text: string) => JSON.stringify(text.replace(/\s+/g, ' ').slice(0, 160));

function main(): void {
  const { values } = parseArgs({
    options: {
      data: { type: 'string' },
      threshold: { type: 'string' },
      worst: { type: 'string', default: '12' },
    },
  });
  const file = values.data ?? join(DATA_DIR, 'dev.jsonl');
  const threshold = values.threshold === undefined ? DEFAULT_THRESHOLD : Number(values.threshold);
  const worst = Number(values.worst);
  const rows = readRows(file);
  const started = performance.now();
  const scored = scoreRows(rows, threshold);
  const ms = performance.now() - started;
  const kb = rows.reduce((sum, r) => sum + Buffer.byteLength(r.text) / 1024, 0);
  const out: string[] = [`screening eval on ${file}: ${rows.length} rows, threshold ${threshold}`, ''];
  out.push(
    ...table(
      'kind',
      groupBy(scored, (s) => s.row.kind),
    ),
    '',
  );
  out.push(
    ...table(
      'source',
      groupBy(scored, (s) => s.row.source),
    ),
    '',
  );
  out.push(...table('overall', new Map([['ALL', [...scored]]])), '');
  out.push(
    `latency: ${((ms * 1000) / kb).toFixed(1)} µs per KiB (${ms.toFixed(0)} ms for ${kb.toFixed(0)} KiB)`,
    '',
  );
  const fps = scored.filter((s) => s.row.label === 0 && s.flagged).sort((a, b) => b.score - a.score);
  const misses = scored.filter((s) => s.row.label === 1 && !s.flagged).sort((a, b) => a.score - b.score);
  out.push(`worst false positives (${fps.length}):`);
  for (const s of fps.slice(0, worst))
    out.push(
      `  ${s.score.toFixed(3)} ${s.row.kind} ${s.row.id} ${preview(s.row.text)}\n        ${s.reasons.slice(0, 3).join(' | ')}`,
    );
  out.push('', `worst misses (${misses.length}):`);
  for (const s of misses.slice(0, worst))
    out.push(`  ${s.score.toFixed(3)} ${s.row.kind} ${s.row.id} ${preview(s.row.text)}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

if (import.meta.main) main();
