/**
 * Rates a task low / high / critical with human-readable reasons. Critical
 * means a human must approve before any pod exists. Screening of the prompt
 * and inputs (policy/task-screening.ts) plugs in through `ScreeningResult`: a
 * flag makes the task critical (a human must look), never lowers it.
 */
import type { AgentTaskSpec } from '../api/agenttask.ts';
import type { Risk } from '../api/common.ts';
import { RISK_LEVELS } from '../api/common.ts';
import { type CloudSettings, cloudModelRisk } from '../gateway/providers/catalog.ts';

type Level = Risk['level'];

/** A screening finding on what a task brings (its prompt, an input) before it runs. */
export interface ScreeningFinding {
  where: 'prompt' | 'input';
  /** The input's path, for inputs. */
  path?: string;
  score: number;
  reasons: string[];
}

export interface ScreeningResult {
  flags: string[];
  /** Where each flag came from, for the audit log. */
  findings?: ScreeningFinding[];
}

export const NO_SCREENING: ScreeningResult = { flags: [] };

const LONG_TIMEOUT_SECONDS = 3600;

interface Finding {
  level: Level;
  reason: string;
}

function findings(spec: AgentTaskSpec, screening: ScreeningResult, cloud?: CloudSettings): Finding[] {
  const found: Finding[] = [];
  const remote = cloudModelRisk(cloud, spec.model);
  if (remote) found.push(remote);
  if (spec.tools.includes('shell')) {
    found.push({ level: 'critical', reason: 'tool shell requested: the agent can run arbitrary commands' });
  }
  if (spec.tools.includes('fs.write')) {
    found.push({ level: 'critical', reason: 'tool fs.write requested: the agent can change files' });
  }
  if (spec.approval === 'required') {
    found.push({ level: 'critical', reason: 'the task asks for human approval (approval: required)' });
  }
  for (const flag of screening.flags) found.push({ level: 'critical', reason: `screening: ${flag}` });
  if (spec.toolOutputScreening === 'warn') {
    found.push({
      level: 'critical',
      reason: 'toolOutputScreening: warn — a tool output flagged as an injection does not stop the run',
    });
  }
  if (spec.timeoutSeconds > LONG_TIMEOUT_SECONDS) {
    found.push({
      level: 'high',
      reason: `long-running: timeout ${spec.timeoutSeconds}s exceeds ${LONG_TIMEOUT_SECONDS}s`,
    });
  }
  return found;
}

const rank = (level: Level) => RISK_LEVELS.indexOf(level);

/** `cloud`: the operator's cloud models; a task on one of them leaves the machine, which is a risk reason. */
export function rateRisk(
  spec: AgentTaskSpec,
  screening: ScreeningResult = NO_SCREENING,
  cloud?: CloudSettings,
): Risk {
  const found = findings(spec, screening, cloud);
  if (found.length === 0) return { level: 'low', reasons: ['read-only or no tools; no screening flags'] };
  const level = found.reduce<Level>((max, f) => (rank(f.level) > rank(max) ? f.level : max), 'low');
  return { level, reasons: found.map((f) => f.reason) };
}

export const needsApproval = (risk: Risk) => risk.level === 'critical';
