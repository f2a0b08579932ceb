/**
 * Trains the screening model's weights (operator/src/screening/model.json) from train.jsonl:
 * logistic regression over hashed word n-grams plus the named signals (rule hits, hidden characters,
 * decoded blobs), full-batch Adam, L2 towards 0 for n-grams and towards each signal's prior for signals.
 *
 *   node hack/screening/train.ts            train on all of train.jsonl, write model.json
 *   node hack/screening/train.ts --cv       leave-one-source-out cross-validation report (writes nothing)
 *
 * Deterministic: same data, same weights.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { analyse, priorOf } from '../../operator/src/screening/analyse.ts';
import { MODEL_FORMAT, type ModelFile } from '../../operator/src/screening/model.ts';
import { bestWindow, DIM, HASH_BITS, NGRAM_FLOOR } from '../../operator/src/screening/tokens.ts';
import { count, DATA_DIR, metrics, type Row, readRows } from './data.ts';

export interface Hyper {
  epochs: number;
  learningRate: number;
  /** L2 on n-gram weights. */
  l2Tokens: number;
  /** L2 pulling signal weights towards their priors. */
  l2Signals: number;
  threshold: number;
  /** n-grams seen in fewer training texts than this get no weight. */
  minDf: number;
  /** Row weight ∝ (rows of its source)^-sourceBalance: 0 = plain, 1 = every source counts the same. */
  sourceBalance: number;
  /** Within a source that has both labels, give benign and injected rows the same total weight. */
  labelBalance: boolean;
}

export const HYPER: Hyper = {
  epochs: 200,
  learningRate: 0.05,
  l2Tokens: 1e-4,
  l2Signals: 3e-3,
  threshold: 0.5,
  minDf: 3,
  sourceBalance: 0,
  labelBalance: true,
};

export interface Example {
  unigrams: Int32Array;
  bigrams: Int32Array;
  textEnds: Int32Array;
  signals: Int32Array;
  y: number;
  source: string;
}

export interface Trained {
  bias: number;
  tokens: Float64Array;
  signalNames: string[];
  signalWeights: Float64Array;
}

export function featurise(rows: readonly Row[], signalIds: Map<string, number>): Example[] {
  return rows.map((r) => {
    const a = analyse(r.text);
    const signals: number[] = [];
    for (const s of a.signals.keys()) {
      let id = signalIds.get(s);
      if (id === undefined) {
        id = signalIds.size;
        signalIds.set(s, id);
      }
      signals.push(id);
    }
    const w = a.words;
    return {
      unigrams: w.unigrams.slice(0, w.length),
      bigrams: w.bigrams.slice(0, w.length),
      textEnds: Int32Array.from(w.textEnds),
      signals: Int32Array.from(signals),
      y: r.label,
      source: r.source,
    };
  });
}

export function train(
  examples: readonly Example[],
  signalNames: readonly string[],
  h: Hyper = HYPER,
): Trained {
  const priors = Float64Array.from(signalNames, (s) => priorOf(s));
  const touched = frequentBuckets(examples, h.minDf);
  const allowed = new Uint8Array(DIM);
  for (const b of touched) allowed[b] = 1;
  const weights = rowWeights(examples, h);
  const tokens = new Float64Array(DIM);
  const sig = Float64Array.from(priors);
  const gTok = new Float64Array(DIM);
  const gSig = new Float64Array(sig.length);
  const opt = {
    mTok: new Float64Array(DIM),
    vTok: new Float64Array(DIM),
    mSig: new Float64Array(sig.length),
    vSig: new Float64Array(sig.length),
  };
  let bias = 0;
  let mB = 0;
  let vB = 0;
  const n = examples.length;
  const b1 = 0.9;
  const b2 = 0.999;
  const lr = h.learningRate;
  for (let epoch = 1; epoch <= h.epochs; epoch++) {
    for (let t = 0; t < touched.length; t++) {
      const i = touched[t] as number;
      gTok[i] = h.l2Tokens * (tokens[i] as number);
    }
    for (let s = 0; s < sig.length; s++) gSig[s] = h.l2Signals * ((sig[s] as number) - (priors[s] as number));
    let gB = 0;
    for (let e = 0; e < n; e++) {
      const ex = examples[e] as Example;
      const win = bestWindow(ex.unigrams, ex.bigrams, ex.textEnds, tokens);
      const floored = win.sum < NGRAM_FLOOR;
      let z = bias + (floored ? NGRAM_FLOOR : win.sum);
      for (const s of ex.signals) z += sig[s] as number;
      const err = (1 / (1 + Math.exp(-z)) - ex.y) * (weights[e] as number);
      gB += err;
      for (let k = win.start; k < (floored ? win.start : win.end); k++) {
        const u = ex.unigrams[k] as number;
        if (allowed[u]) gTok[u] = (gTok[u] as number) + err;
        if (k > win.textStart) {
          const bg = ex.bigrams[k] as number;
          if (allowed[bg]) gTok[bg] = (gTok[bg] as number) + err;
        }
      }
      for (const s of ex.signals) gSig[s] = (gSig[s] as number) + err;
    }
    const c1 = 1 - b1 ** epoch;
    const c2 = 1 - b2 ** epoch;
    for (let t = 0; t < touched.length; t++)
      adamStep(tokens, gTok, opt.mTok, opt.vTok, touched[t] as number, lr, c1, c2);
    for (let s = 0; s < sig.length; s++) adamStep(sig, gSig, opt.mSig, opt.vSig, s, lr, c1, c2);
    mB = b1 * mB + (1 - b1) * gB;
    vB = b2 * vB + (1 - b2) * gB * gB;
    bias -= (lr * (mB / c1)) / (Math.sqrt(vB / c2) + 1e-8);
  }
  return { bias, tokens, signalNames: [...signalNames], signalWeights: sig };
}

function adamStep(
  w: Float64Array,
  g: Float64Array,
  m: Float64Array,
  v: Float64Array,
  i: number,
  lr: number,
  c1: number,
  c2: number,
): void {
  const gi = g[i] as number;
  const mi = 0.9 * (m[i] as number) + 0.1 * gi;
  const vi = 0.999 * (v[i] as number) + 0.001 * gi * gi;
  m[i] = mi;
  v[i] = vi;
  w[i] = (w[i] as number) - (lr * (mi / c1)) / (Math.sqrt(vi / c2) + 1e-8);
}

function frequentBuckets(examples: readonly Example[], minDf: number): Int32Array {
  const df = new Uint16Array(DIM);
  const seen = new Set<number>();
  for (const ex of examples) {
    seen.clear();
    for (const b of ex.unigrams) seen.add(b);
    for (const b of ex.bigrams) if (b >= 0) seen.add(b);
    for (const b of seen) df[b] = Math.min(65535, (df[b] ?? 0) + 1);
  }
  const out: number[] = [];
  df.forEach((v, i) => {
    if (v >= minDf) out.push(i);
  });
  return Int32Array.from(out);
}

/** Weights summing to 1; a row of a source with n rows weighs ∝ n^-sourceBalance (see Hyper.labelBalance). */
function rowWeights(examples: readonly Example[], h: Hyper): Float64Array {
  const perSource = new Map<string, number>();
  const perGroup = new Map<string, number>();
  const labels = new Map<string, Set<number>>();
  for (const ex of examples) {
    perSource.set(ex.source, (perSource.get(ex.source) ?? 0) + 1);
    perGroup.set(`${ex.source}\t${ex.y}`, (perGroup.get(`${ex.source}\t${ex.y}`) ?? 0) + 1);
    labels.set(ex.source, (labels.get(ex.source) ?? new Set()).add(ex.y));
  }
  const w = Float64Array.from(examples, (ex) => {
    const n = perSource.get(ex.source) ?? 1;
    const source = n ** -h.sourceBalance;
    if (!h.labelBalance || (labels.get(ex.source)?.size ?? 0) < 2) return source;
    return source * (n / 2 / (perGroup.get(`${ex.source}\t${ex.y}`) ?? 1));
  });
  const total = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / total);
}

export function predict(t: Trained, ex: Example): number {
  let z = t.bias + Math.max(NGRAM_FLOOR, bestWindow(ex.unigrams, ex.bigrams, ex.textEnds, t.tokens).sum);
  for (const s of ex.signals) z += t.signalWeights[s] ?? 0;
  return 1 / (1 + Math.exp(-z));
}

/** Quantises n-gram weights to int8 levels and keeps the non-zero ones, delta-coded. */
export function toModelFile(t: Trained, h: Hyper, trainedOn: unknown): ModelFile {
  let max = 0;
  for (const w of t.tokens) max = Math.max(max, Math.abs(w));
  const scale = max / 127 || 1;
  const tokenIndex: number[] = [];
  const tokenWeight: number[] = [];
  let last = 0;
  t.tokens.forEach((w, i) => {
    const q = Math.round(w / scale);
    if (q === 0) return;
    tokenIndex.push(i - last);
    tokenWeight.push(q);
    last = i;
  });
  const signals: Record<string, number> = {};
  t.signalNames.forEach((name, i) => {
    signals[name] = Math.round((t.signalWeights[i] ?? 0) * 1000) / 1000;
  });
  return {
    format: MODEL_FORMAT,
    hashBits: HASH_BITS,
    bias: Math.round(t.bias * 1000) / 1000,
    threshold: h.threshold,
    signals,
    tokenScale: Number(scale.toPrecision(6)),
    tokenIndex,
    tokenWeight,
    trainedOn,
  };
}

function crossValidate(rows: Row[], configs: Hyper[]): void {
  const signalIds = new Map<string, number>();
  const examples = featurise(rows, signalIds);
  const names = [...signalIds.keys()];
  for (const h of configs) crossValidateOne(rows, examples, names, h);
}

function crossValidateOne(rows: Row[], examples: Example[], names: string[], h: Hyper): void {
  const sources = [...new Set(rows.map((r) => r.source))].sort();
  const oof = new Float64Array(rows.length);
  for (const source of sources) {
    const trainIdx = rows.flatMap((r, i) => (r.source === source ? [] : [i]));
    const model = train(
      trainIdx.map((i) => examples[i] as Example),
      names,
      h,
    );
    rows.forEach((r, i) => {
      if (r.source === source) oof[i] = predict(model, examples[i] as Example);
    });
    process.stderr.write(`# cv: held out ${source}\n`);
  }
  const labels = rows.map((r) => r.label);
  const line = (name: string, idx: number[]) => {
    const m = metrics(
      count(
        idx.map((i) => labels[i] ?? 0),
        idx.map((i) => (oof[i] ?? 0) >= h.threshold),
      ),
    );
    const pct = (x: number) => (Number.isNaN(x) ? '   -  ' : `${(x * 100).toFixed(1).padStart(5)}%`);
    console.log(
      `${name.padEnd(30)} n=${String(m.n).padStart(4)} pos=${String(m.positives).padStart(4)}  P ${pct(m.precision)}  R ${pct(m.recall)}  FPR ${pct(m.fpr)}  F1 ${m.f1.toFixed(3)}`,
    );
  };
  console.log(`leave-one-source-out CV on ${rows.length} train rows: ${JSON.stringify(h)}`);
  for (const s of sources)
    line(
      s,
      rows.flatMap((r, i) => (r.source === s ? [i] : [])),
    );
  line(
    'OVERALL',
    rows.map((_, i) => i),
  );
}

function main(): void {
  const { values } = parseArgs({
    options: {
      cv: { type: 'boolean', default: false },
      grid: { type: 'string' },
      data: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const file = values.data ?? join(DATA_DIR, 'train.jsonl');
  const rows = readRows(file);
  if (values.cv) {
    // --grid '[{"l2Tokens":1e-3},{"l2Tokens":3e-3}]' cross-validates variations of HYPER.
    const grid = values.grid ? (JSON.parse(values.grid) as Partial<Hyper>[]) : [{}];
    crossValidate(
      rows,
      grid.map((g) => ({ ...HYPER, ...g })),
    );
    return;
  }
  const signalIds = new Map<string, number>();
  const started = performance.now();
  const examples = featurise(rows, signalIds);
  const model = train(examples, [...signalIds.keys()], HYPER);
  const sha256 = createHash('sha256').update(readFileSync(file)).digest('hex');
  const out = values.out ?? join(import.meta.dirname, '../../operator/src/screening/model.json');
  const json = toModelFile(model, HYPER, { file: 'train.jsonl', sha256, rows: rows.length, hyper: HYPER });
  writeFileSync(out, `${JSON.stringify(json)}\n`);
  const flagged = examples.map((ex) => predict(model, ex) >= HYPER.threshold);
  const m = metrics(
    count(
      rows.map((r) => r.label),
      flagged,
    ),
  );
  process.stderr.write(
    `trained on ${rows.length} rows in ${((performance.now() - started) / 1000).toFixed(1)} s; ${json.tokenIndex.length} n-gram weights; train F1 ${m.f1.toFixed(3)} FPR ${(m.fpr * 100).toFixed(1)}%; wrote ${out}\n`,
  );
}

if (import.meta.main) main();
