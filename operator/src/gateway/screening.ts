/**
 * The gateway's screening seam: every tool output the runner sends to the model (a `role: "tool"`
 * message, spotlighted by the runner; the markers are screened with it) is screened once per task.
 * A flagged output stops the run unless the approver allowed flagged tool output for this task.
 * The screener itself lives in operator/src/screening; this file only decides what to do with it.
 */
import { createHash } from 'node:crypto';

export interface ScreenVerdict {
  flagged: boolean;
  score: number;
  reasons: string[];
}
export type ScreenFn = (text: string) => ScreenVerdict;

export interface Finding {
  where: 'tool_output';
  score: number;
  reasons: string[];
  /** `sha256:<hex>` of the flagged text. */
  digest: string;
}

export type ScreenOutcome =
  | { kind: 'clean'; digests: string[] }
  | { kind: 'allowed'; digests: string[]; findings: Finding[] }
  | { kind: 'stopped'; digests: string[]; findings: Finding[]; stopping: Finding };

export function digestOf(text: string): string {
  return `sha256:${createHash('sha256').update(text, 'utf8').digest('hex')}`;
}

/**
 * Screens the tool outputs not screened before (`seen`), in order, stopping at the first flagged one
 * that is not allowed. `digests` are those to remember as screened (clean or allowed). A screener that
 * throws counts as a flag: screening fails closed.
 */
export function screenToolOutputs(
  outputs: readonly string[],
  seen: (digest: string) => boolean,
  screen: ScreenFn,
  allowFlagged: () => boolean,
): ScreenOutcome {
  const digests: string[] = [];
  const findings: Finding[] = [];
  for (const text of outputs) {
    const digest = digestOf(text);
    if (seen(digest) || digests.includes(digest)) continue;
    const verdict = safeScreen(screen, text);
    if (verdict.flagged) {
      const finding: Finding = {
        where: 'tool_output',
        score: Number.isFinite(verdict.score) ? Math.max(0, verdict.score) : 0,
        reasons: verdict.reasons.length > 0 ? verdict.reasons : ['flagged (no reason given)'],
        digest,
      };
      findings.push(finding);
      if (!allowFlagged()) return { kind: 'stopped', digests, findings, stopping: finding };
    }
    digests.push(digest);
  }
  return findings.length > 0 ? { kind: 'allowed', digests, findings } : { kind: 'clean', digests };
}

function safeScreen(screen: ScreenFn, text: string): ScreenVerdict {
  try {
    const v = screen(text);
    if (typeof v?.flagged !== 'boolean' || !Array.isArray(v.reasons)) {
      return { flagged: true, score: 0, reasons: ['screening returned no verdict'] };
    }
    return v;
  } catch (err) {
    return {
      flagged: true,
      score: 0,
      reasons: [`screening failed: ${(err as Error).message}`.slice(0, 200)],
    };
  }
}

/** The message a stopped run's calls are refused with. */
export function stopMessage(f: Finding): string {
  return `tool output flagged by screening (score ${f.score}): ${f.reasons.join('; ')}; the run is stopped (${f.digest})`;
}
