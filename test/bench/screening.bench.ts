// Screening benchmark: latency of screen() over the dev set texts (and of a same-run baseline pass over them:
// NFKC + lower-casing + a split into words, so the figure can be judged on a noisy machine, with the load
// average at the time) and over a 1 MB adversarial mix, the worst
// time of each pattern family on 1 MB adversarial strings (every pattern run on the whole string, without the
// key-word gate or sampling), the model's load time, and the dev-set figures.
// Run: node test/bench/screening.bench.ts   (dev set from SCREENING_DATA or ../shared/data/screening)
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { DATA_DIR, readRows } from '../../hack/screening/data.ts';
import { findBlobs } from '../../operator/src/screening/decode.ts';
import { findSecrets, screen } from '../../operator/src/screening/index.ts';
import { loadModel, type ModelFile } from '../../operator/src/screening/model.ts';
import { normalize } from '../../operator/src/screening/normalize.ts';
import { RULES } from '../../operator/src/screening/rules.ts';
import { adversarialInputs } from '../../operator/src/screening/testkit.ts';
import { WordScan } from '../../operator/src/screening/tokens.ts';
import { scoreRows, summary } from '../eval/screening.ts';
import { percentile, report } from './report.ts';

const log = (s: string) => process.stderr.write(`# ${s}\n`);
const kib = (texts: readonly string[]) => texts.reduce((sum, t) => sum + Buffer.byteLength(t), 0) / 1024;

function timeMs(f: () => void): number {
  const start = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** Median over `passes` runs of f, in ms. */
function medianMs(passes: number, f: () => void): number {
  return percentile(
    Array.from({ length: passes }, () => timeMs(f)),
    50,
  );
}

function modelLoad(): void {
  const path = join(import.meta.dirname, '../../operator/src/screening/model.json');
  const ms = medianMs(5, () => loadModel(JSON.parse(readFileSync(path, 'utf8')) as ModelFile));
  report('screening_model_load_ms', ms, 'ms');
  report('screening_model_bytes', readFileSync(path).length, 'bytes');
}

/** Word boundaries for the baseline pass: anything but letters, digits and marks. */
const NON_WORD = /[^\p{L}\p{N}\p{M}]+/u;

/**
 * The plain pass screening is judged against on a noisy machine: NFKC, lower-casing and a split into words of
 * the same texts, nothing else. Returns the number of words (so the work cannot be optimised away).
 */
function baselinePass(texts: readonly string[]): number {
  let words = 0;
  for (const t of texts) words += t.normalize('NFKC').toLowerCase().split(NON_WORD).length;
  return words;
}

/** Passes over the dev texts; screening and the baseline alternate, so both see the same machine load. */
const DEV_PASSES = 9;

function devLatency(texts: string[]): void {
  for (const t of texts) screen(t);
  baselinePass(texts);
  const screenMs: number[] = [];
  const baselineMs: number[] = [];
  for (let p = 0; p < DEV_PASSES; p++) {
    screenMs.push(
      timeMs(() => {
        for (const t of texts) screen(t);
      }),
    );
    baselineMs.push(timeMs(() => baselinePass(texts)));
  }
  const screenUs = (percentile(screenMs, 50) * 1000) / kib(texts);
  const baselineUs = (percentile(baselineMs, 50) * 1000) / kib(texts);
  report('screen_us_per_kb', screenUs, 'us/KiB');
  report('screen_baseline_us_per_kb', baselineUs, 'us/KiB');
  report('screen_vs_baseline', screenUs / baselineUs, 'ratio');
  const perText = texts.map((t) => timeMs(() => screen(t)) * 1000);
  report('screen_us_per_text_p50', percentile(perText, 50), 'us');
  report('screen_us_per_text_p99', percentile(perText, 99), 'us');
  const [one, five, fifteen] = loadavg();
  log(
    `load average ${one?.toFixed(2)} ${five?.toFixed(2)} ${fifteen?.toFixed(2)} on ${availableParallelism()} cores`,
  );
  report('screening_bench_load_1m', one ?? Number.NaN, 'load');
}

function adversarialLatency(): void {
  const inputs = adversarialInputs(1_000_000);
  const slice = Math.floor(1_000_000 / inputs.length);
  const mix = inputs.map((i) => i.text.slice(0, slice)).join('\n');
  screen(mix);
  report('screen_us_per_kb_1mb_mix', (medianMs(3, () => screen(mix)) * 1000) / kib([mix]), 'us/KiB');
  let worst = 0;
  let worstName = '';
  for (const { name, text } of inputs) {
    const ms = timeMs(() => screen(text));
    if (ms > worst) [worst, worstName] = [ms, name];
  }
  log(`slowest screen() on 1 MB: ${worstName}`);
  report('screen_worst_ms_1mb', worst, 'ms');
  familyWorst(inputs);
}

/** Worst time of each pattern family (and of each other stage) on any 1 MB adversarial string. */
function familyWorst(inputs: ReturnType<typeof adversarialInputs>): void {
  const stages = new Map<string, (text: string) => void>();
  const families = new Map<string, typeof RULES>();
  for (const r of RULES) families.set(r.family, [...(families.get(r.family) ?? []), r]);
  for (const [family, rules] of families)
    stages.set(family, (text) => {
      for (const r of rules) r.re.exec(text);
    });
  const scan = new WordScan(new Map());
  stages.set('normalize', (text) => normalize(text));
  stages.set('decoders', (text) => findBlobs(text, text.toLowerCase(), { rot13: 2, reversed: 2 }));
  stages.set('word scan', (text) => {
    scan.reset();
    scan.add(text);
  });
  stages.set('secrets', (text) => findSecrets(text));
  for (const [stage, run] of stages) {
    let worst = 0;
    let worstName = '';
    for (const { name, text } of inputs) {
      const ms = timeMs(() => run(text));
      if (ms > worst) [worst, worstName] = [ms, name];
    }
    log(`${stage}: worst on ${worstName}`);
    report(`screen_worst_ms_1mb_${stage.toLowerCase().replace(/[^a-z]+/g, '_')}`, worst, 'ms');
  }
}

function devFigures(): string[] | undefined {
  const file = join(DATA_DIR, 'dev.jsonl');
  if (!existsSync(file)) {
    log(`no dev set at ${file} (set SCREENING_DATA): dev figures and dev latency skipped`);
    return undefined;
  }
  const rows = readRows(file);
  const m = summary(scoreRows(rows));
  report('screening_dev_f1', m.f1, 'ratio');
  report('screening_dev_fpr', m.fpr, 'ratio');
  report('screening_dev_recall', m.recall, 'ratio');
  report('screening_dev_precision', m.precision, 'ratio');
  return rows.map((r) => r.text);
}

modelLoad();
const devTexts = devFigures();
if (devTexts) devLatency(devTexts);
adversarialLatency();
