/**
 * Screening of what a task brings before it runs: its prompt and each input document. A flag is a
 * reason for a human to look (risk.ts makes the task critical); nothing is dropped or rewritten.
 */
import type { AgentTaskSpec } from '../api/agenttask.ts';
import { screen } from '../screening/index.ts';
import type { ScreeningFinding, ScreeningResult } from './risk.ts';

export type TaskScreening = ScreeningResult & { findings: ScreeningFinding[] };

/** Results by spec digest: the UI, CLI and channels rate the same spec on every view. Bounded. */
const bySpecDigest = new Map<string, TaskScreening>();
const MAX_REMEMBERED = 1000;

/** screenTask(spec), remembered under the spec's digest (the caller's; it names exactly this spec). */
export function screenTaskOnce(spec: AgentTaskSpec, digest: string): TaskScreening {
  const known = bySpecDigest.get(digest);
  if (known) return known;
  const result = screenTask(spec);
  bySpecDigest.set(digest, result);
  if (bySpecDigest.size > MAX_REMEMBERED) bySpecDigest.delete(bySpecDigest.keys().next().value as string);
  return result;
}

export function screenTask(spec: AgentTaskSpec): TaskScreening {
  const findings: ScreeningFinding[] = [];
  const prompt = screen(spec.prompt, { where: 'prompt' });
  if (prompt.flagged) findings.push({ where: 'prompt', score: prompt.score, reasons: prompt.reasons });
  for (const input of spec.inputs ?? []) {
    const result = screen(input.content, { where: 'input' });
    if (result.flagged)
      findings.push({ where: 'input', path: input.path, score: result.score, reasons: result.reasons });
  }
  const flags = findings.flatMap((f) =>
    f.reasons
      .slice(0, 3)
      .map((r) => `${f.where === 'prompt' ? 'prompt' : `input ${f.path}`}: ${r}`.slice(0, 200)),
  );
  return { flags, findings };
}
