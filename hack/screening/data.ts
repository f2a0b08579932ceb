/** Reads the screening data set (JSON lines {"id","text","label","source","kind"}). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Row {
  id: string;
  text: string;
  label: 0 | 1;
  source: string;
  kind: string;
}

/** The data lives in the shared folder beside the checkout unless SCREENING_DATA says otherwise. */
export const DATA_DIR =
  process.env.SCREENING_DATA ?? join(import.meta.dirname, '../../../shared/data/screening');

export function readRows(file: string): Row[] {
  const rows: Row[] = [];
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    const r = JSON.parse(line) as Partial<Row>;
    if (typeof r.text !== 'string' || (r.label !== 0 && r.label !== 1))
      throw new Error(`${file} line ${i + 1}: want {"text": string, "label": 0|1}`);
    rows.push({
      id: String(r.id ?? i + 1),
      text: r.text,
      label: r.label,
      source: String(r.source ?? '-'),
      kind: String(r.kind ?? '-'),
    });
  });
  return rows;
}

export interface Counts {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

export function count(labels: readonly number[], flagged: readonly boolean[]): Counts {
  const c: Counts = { tp: 0, fp: 0, tn: 0, fn: 0 };
  labels.forEach((y, i) => {
    const f = flagged[i];
    if (y === 1) f ? c.tp++ : c.fn++;
    else f ? c.fp++ : c.tn++;
  });
  return c;
}

export function metrics(c: Counts) {
  const precision = c.tp + c.fp === 0 ? Number.NaN : c.tp / (c.tp + c.fp);
  const recall = c.tp + c.fn === 0 ? Number.NaN : c.tp / (c.tp + c.fn);
  const fpr = c.fp + c.tn === 0 ? Number.NaN : c.fp / (c.fp + c.tn);
  const f1 = c.tp === 0 ? 0 : (2 * c.tp) / (2 * c.tp + c.fp + c.fn);
  return { precision, recall, fpr, f1, n: c.tp + c.fp + c.tn + c.fn, positives: c.tp + c.fn };
}
