/**
 * The canonical form of a task spec and its digest: an Approval binds to this
 * digest, and any edit of the spec changes it.
 */
import { createHash } from 'node:crypto';
import { type AgentTaskSpec, agentTaskSpecSchema } from '../api/agenttask.ts';

/** JSON with keys sorted at every level, after applying the schema defaults; `tools` is a set, so sorted too. */
export function canonicalSpecJson(spec: AgentTaskSpec): string {
  const parsed = agentTaskSpecSchema.parse(spec);
  return JSON.stringify(sortKeys({ ...parsed, tools: [...parsed.tools].sort() }));
}

export function specDigest(spec: AgentTaskSpec): string {
  return `sha256:${createHash('sha256').update(canonicalSpecJson(spec)).digest('hex')}`;
}

/** JSON with object keys sorted at every level: equal values give equal strings. */
export const canonicalJson = (value: unknown) => JSON.stringify(sortKeys(value));

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, sortKeys(v)]),
    );
  }
  return value;
}
