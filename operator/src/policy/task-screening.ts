/**
 * Screening of what a task brings before it runs: its prompt and each input document. A flag is a
 * reason for a human to look (risk.ts makes the task critical); nothing is dropped or rewritten.
 */
import type { AgentTaskSpec } from '../api/agenttask.ts';
import { screen } from '../screening/index.ts';
import type { ScreeningResult } from './risk.ts';

export interface ScreeningFinding {
  where: 'prompt' | 'input';
  /** The input's path, for inputs. */
  path?: string;
  score: number;
  reasons: string[];
}

export function screenTask(spec: AgentTaskSpec): ScreeningResult & { findings: ScreeningFinding[] } {
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
