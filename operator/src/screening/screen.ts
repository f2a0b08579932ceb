/**
 * screen(): is this text trying to instruct the model? Pure, synchronous, bounded: texts longer than
 * SCAN_LIMIT_CHARS are read as their first and last SCAN_EDGE_CHARS plus SCAN_WINDOWS evenly spaced windows
 * of SCAN_WINDOW_CHARS from the middle (so at most ~96 KiB of a 1 MB text is read; an injection hidden
 * deep inside a huge text can be missed; callers that need more screen it in chunks).
 */
import { analyse, newWordScan } from './analyse.ts';
import { MODEL, type Model, scoreAnalysis, sigmoid, signalWeight, topNgrams } from './model.ts';
import { findSecrets } from './secrets.ts';
import type { ScreenOptions, ScreenResult } from './types.ts';

export const SCAN_EDGE_CHARS = 32 * 1024;
export const SCAN_WINDOWS = 16;
export const SCAN_WINDOW_CHARS = 2 * 1024;
export const SCAN_LIMIT_CHARS = 2 * SCAN_EDGE_CHARS + SCAN_WINDOWS * SCAN_WINDOW_CHARS;
export const MAX_REASONS = 8;
export const MAX_REASON_CHARS = 200;
/** Token n-grams must add at least this much log-odds before the classifier is named as a reason. */
const CLASSIFIER_REASON_LOGIT = 1;

export const DEFAULT_THRESHOLD = MODEL.threshold;

const scan = newWordScan();

export function screen(text: string, options: ScreenOptions = {}): ScreenResult {
  const threshold = options.threshold ?? DEFAULT_THRESHOLD;
  if (typeof threshold !== 'number' || !(threshold >= 0 && threshold <= 1))
    throw new RangeError(`screen: threshold must be a number in [0, 1], got ${String(threshold)}`);
  const input = typeof text === 'string' ? text : String(text ?? '');
  const result = screenWith(MODEL, sampleForScan(input), threshold);
  if (options.where !== 'model_output') return result;
  const secrets = findSecrets(input);
  if (secrets.found.length === 0) return result;
  return {
    flagged: true,
    score: Math.max(result.score, 0.99),
    reasons: [`secret-shaped strings: ${secrets.found.join(', ')}`, ...result.reasons]
      .slice(0, MAX_REASONS)
      .map(clip),
  };
}

export function screenWith(model: Model, text: string, threshold: number): ScreenResult {
  const a = analyse(text, scan);
  const { logit, window } = scoreAnalysis(model, a);
  // The reported score is rounded; the flag compares that same number, so callers see consistent results.
  const score = Math.round(sigmoid(logit) * 1e4) / 1e4;
  const ranked: { weight: number; reason: string }[] = [];
  for (const [signal, reason] of a.signals) {
    const weight = signalWeight(model, signal);
    if (reason && weight > 0) ranked.push({ weight, reason });
  }
  if (window.sum >= CLASSIFIER_REASON_LOGIT) {
    const words = topNgrams(model, a, window, 4).map((w) => `"${w}"`);
    ranked.push({
      weight: window.sum,
      reason: `classifier: wording typical of injections (${words.join(', ')})`,
    });
  }
  ranked.sort((x, y) => y.weight - x.weight);
  return {
    flagged: score >= threshold,
    score,
    reasons: ranked.slice(0, MAX_REASONS).map((r) => clip(r.reason)),
  };
}

/** The part of a text that is read: all of it up to SCAN_LIMIT_CHARS, else edges plus evenly spaced windows. */
export function sampleForScan(text: string): string {
  if (text.length <= SCAN_LIMIT_CHARS) return text;
  const parts = [text.slice(0, SCAN_EDGE_CHARS)];
  const middleStart = SCAN_EDGE_CHARS;
  const middleEnd = text.length - SCAN_EDGE_CHARS;
  const step = (middleEnd - middleStart) / SCAN_WINDOWS;
  for (let i = 0; i < SCAN_WINDOWS; i++) {
    const start = Math.floor(middleStart + i * step + (step - SCAN_WINDOW_CHARS) / 2);
    parts.push(text.slice(start, start + SCAN_WINDOW_CHARS));
  }
  parts.push(text.slice(middleEnd));
  return parts.join('\n');
}

function clip(reason: string): string {
  return reason.length <= MAX_REASON_CHARS ? reason : `${reason.slice(0, MAX_REASON_CHARS - 1)}…`;
}
