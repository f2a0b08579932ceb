/** The doctor's results and how they are shown (linkerd-check style): pure, no I/O. */

export const CATEGORIES = ['cluster', 'runtime', 'network', 'model', 'operator', 'audit', 'ui'] as const;
export type Category = (typeof CATEGORIES)[number];
export type Status = 'ok' | 'warn' | 'fail';

export interface Check {
  category: Category;
  /** Stable identifier, e.g. `crds-current` (for -o json and tests). */
  id: string;
  status: Status;
  /** What holds (or should hold), one line. */
  title: string;
  /** What to do about it (warn and fail), or detail (ok), one line. */
  hint?: string;
}

export const ok = (category: Category, id: string, title: string, hint?: string): Check => ({
  category,
  id,
  status: 'ok',
  title,
  ...(hint ? { hint } : {}),
});
export const warn = (category: Category, id: string, title: string, hint: string): Check => ({
  category,
  id,
  status: 'warn',
  title,
  hint,
});
export const fail = (category: Category, id: string, title: string, hint: string): Check => ({
  category,
  id,
  status: 'fail',
  title,
  hint,
});

const MARK: Record<Status, string> = { ok: '√', warn: '‼', fail: '×' };

export function summary(checks: Check[]): { ok: number; warnings: number; failures: number } {
  return {
    ok: checks.filter((c) => c.status === 'ok').length,
    warnings: checks.filter((c) => c.status === 'warn').length,
    failures: checks.filter((c) => c.status === 'fail').length,
  };
}

export const exitCode = (checks: Check[]): 0 | 1 => (checks.some((c) => c.status === 'fail') ? 1 : 0);

/** Grouped by category in a fixed order; one line each, and an indented hint line. */
export function renderText(checks: Check[]): string {
  const out: string[] = [];
  for (const category of CATEGORIES) {
    const group = checks.filter((c) => c.category === category);
    if (group.length === 0) continue;
    out.push(category, '-'.repeat(category.length));
    for (const check of group) {
      out.push(`${MARK[check.status]} ${check.title}`);
      if (check.hint && check.status !== 'ok') out.push(`    ${check.hint}`);
      else if (check.hint) out.push(`    ${check.hint}`);
    }
    out.push('');
  }
  const s = summary(checks);
  out.push(
    s.failures > 0
      ? `Status check results are ×: ${s.failures} failed, ${s.warnings} warning${s.warnings === 1 ? '' : 's'}`
      : s.warnings > 0
        ? `Status check results are ‼: ${s.warnings} warning${s.warnings === 1 ? '' : 's'}, nothing failed`
        : 'Status check results are √',
  );
  return `${out.join('\n')}\n`;
}

export function renderJson(checks: Check[]): string {
  const s = summary(checks);
  return `${JSON.stringify(
    {
      success: s.failures === 0,
      summary: s,
      categories: CATEGORIES.filter((c) => checks.some((k) => k.category === c)).map((category) => ({
        category,
        checks: checks
          .filter((k) => k.category === category)
          .map(({ id, status, title, hint }) => ({ id, result: status, title, ...(hint ? { hint } : {}) })),
      })),
    },
    null,
    2,
  )}\n`;
}
