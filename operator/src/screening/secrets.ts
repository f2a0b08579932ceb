/**
 * Secret-shaped strings: provider API keys with a recognisable prefix, JWTs, bearer tokens, private key blocks,
 * passwords in URLs and quoted literals assigned to secret-named variables. Hex digests (sha256 etc.) and
 * placeholders are deliberately not secrets. Works on the whole text (no sampling): it redacts.
 */
import type { SecretsResult } from './types.ts';

interface SecretPattern {
  kind: string;
  re: RegExp;
  /** Replace only this capture group (the rest, e.g. "Bearer ", stays). */
  group?: number;
  /** Returns false for matches that are not secrets after all (placeholders). */
  accept?: (value: string) => boolean;
}

const PLACEHOLDER =
  /^(?:[<{$%]|\*{3,}|x{4,}|\.{3})|^(?:your|my|the|some|example|sample|changeme|change_me|placeholder|dummy|fake|test|secret|password|redacted|none|null|undefined|todo|xxx)(?:[_-]|$)/i;
const looksRandom = (v: string) =>
  !PLACEHOLDER.test(v) && [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((r) => r.test(v)).length >= 2;

const PATTERNS: SecretPattern[] = [
  {
    kind: 'private-key',
    re: /-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|$)/g,
  },
  { kind: 'jwt', re: /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g },
  {
    kind: 'aws-access-key',
    re: /(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}(?![A-Z0-9])/g,
  },
  {
    kind: 'aws-secret-key',
    re: /(aws_?secret_?(?:access_?)?key["']?\s{0,3}[:=]\s{0,3}["']?)([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])/gi,
    group: 2,
  },
  {
    kind: 'github-token',
    re: /(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{60,255})/g,
  },
  { kind: 'gitlab-token', re: /(?<![A-Za-z0-9_])glpat-[A-Za-z0-9_-]{20,}/g },
  { kind: 'slack-token', re: /(?<![A-Za-z0-9_])xox[abposr]-[A-Za-z0-9-]{10,}/g },
  { kind: 'slack-webhook', re: /https:\/\/hooks\.slack\.com\/services\/[A-Za-z0-9/_-]{20,}/g },
  { kind: 'anthropic-api-key', re: /(?<![A-Za-z0-9_-])sk-ant-[A-Za-z0-9_-]{20,}/g },
  {
    kind: 'openai-api-key',
    re: /(?<![A-Za-z0-9_-])sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}/g,
    accept: looksRandom,
  },
  { kind: 'stripe-key', re: /(?<![A-Za-z0-9_])(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}/g },
  { kind: 'google-api-key', re: /(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}/g },
  { kind: 'huggingface-token', re: /(?<![A-Za-z0-9_])hf_[A-Za-z0-9]{30,}/g },
  { kind: 'npm-token', re: /(?<![A-Za-z0-9_])npm_[A-Za-z0-9]{36}/g },
  { kind: 'sendgrid-key', re: /(?<![A-Za-z0-9_])SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}/g },
  {
    kind: 'bearer-token',
    re: /(?<![A-Za-z])(bearer\s{1,3})([A-Za-z0-9._~+/-]{20,}=*)/gi,
    group: 2,
    accept: looksRandom,
  },
  {
    kind: 'password-in-url',
    re: /(\b[a-z][a-z0-9+.-]{1,20}:\/\/[^\s:/@"'<>]{1,128}:)([^\s/@"'<>]{3,128})(@)/gi,
    group: 2,
    accept: (v) => !PLACEHOLDER.test(v),
  },
  {
    kind: 'secret-assignment',
    re: /((?<![A-Za-z0-9])(?:password|passwd|pwd|secret|secret_?key|api_?key|apikey|access_?token|auth_?token|client_?secret|private_?key)["']?\s{0,3}[:=]\s{0,3}["'])([^"'\s]{8,200})(["'])/gi,
    group: 2,
    accept: looksRandom,
  },
];

export function findSecrets(text: string): SecretsResult {
  let redacted = typeof text === 'string' ? text.toWellFormed() : '';
  const found: string[] = [];
  for (const p of PATTERNS) {
    p.re.lastIndex = 0;
    redacted = redacted.replace(p.re, (...args: unknown[]) => {
      const whole = args[0] as string;
      const value = p.group === undefined ? whole : ((args[p.group] as string | undefined) ?? '');
      if (p.accept && !p.accept(value)) return whole;
      if (!found.includes(p.kind)) found.push(p.kind);
      const mask = `[REDACTED:${p.kind}]`;
      if (p.group === undefined) return mask;
      const groups = args.slice(1, 1 + countGroups(args)) as (string | undefined)[];
      return groups.map((g, i) => (i + 1 === p.group ? mask : (g ?? ''))).join('');
    });
  }
  return { redacted, found };
}

/** replace() passes (match, ...groups, offset, whole[, namedGroups]); the groups are those before the offset. */
function countGroups(args: unknown[]): number {
  const offsetAt = args.findIndex((a, i) => i > 0 && typeof a === 'number');
  return offsetAt - 1;
}
