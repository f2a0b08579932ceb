/** The text of an approval notice, the same on every platform: plain text (no markup is interpreted). */
import type { ApprovalNotice } from './types.ts';

const MAX_PROMPT = 400;

export function noticeText(n: ApprovalNotice, now: Date, max = 1900): string {
  const minutes = Math.max(0, Math.round((Date.parse(n.expiresAt) - now.getTime()) / 60_000));
  const prompt = n.prompt.length > MAX_PROMPT ? `${n.prompt.slice(0, MAX_PROMPT)}…` : n.prompt;
  const lines = [
    `ClosedPaw: approval needed for task ${n.namespace}/${n.task}`,
    `Risk: ${n.risk.level}`,
    ...n.risk.reasons.slice(0, 8).map((r) => `  • ${r}`),
    `Model: ${n.model} · Tools: ${n.tools.length > 0 ? n.tools.join(', ') : 'none'}`,
    `Prompt: ${prompt}`,
    `Expires: ${n.expiresAt} (in ${minutes} min; silence is a denial)`,
    `Approval: ${n.approval}. Your paired Kubernetes user decides; the API server checks it.`,
  ];
  const text = lines.join('\n');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
