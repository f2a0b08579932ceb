/**
 * Which cloud models a task may name, where each provider is, which vault entry holds its key, what a
 * token costs, and how much a task may spend: parsed from the operator's configuration, checked at
 * start-up (a bad value names the variable), pure.
 *
 *   CLOSEDPAW_CLOUD_MODELS     openai/gpt-4o-mini,anthropic/claude-3-5-haiku-latest   (unset: cloud off)
 *   CLOSEDPAW_CLOUD_PRICES     openai/gpt-4o-mini=0.15/0.60,…   USD per 1M input/output tokens (each model needs one)
 *   CLOSEDPAW_CLOUD_PROVIDERS  name=kind,baseUrl,vaultKey;…     (defaults: openai and anthropic at their public APIs)
 *   CLOSEDPAW_CLOUD_MAX_COST_USD        per-task cap on the estimated cost (default 0.50)
 *   CLOSEDPAW_CLOUD_MAX_OUTPUT_TOKENS   most completion tokens per call (default 4096)
 *   CLOSEDPAW_CLOUD_RISK       critical (default) | high: the risk a cloud model adds to a task
 */
import type { ProviderKind } from './types.ts';

/** A vault entry name (vault/vault.ts PROVIDER_PATTERN; repeated so policy/ can import this file without I/O). */
const PROVIDER_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export interface Price {
  /** USD per million input (prompt) tokens = micro-USD per token. */
  inputPerMTok: number;
  outputPerMTok: number;
}

export interface CloudProvider {
  name: string;
  kind: ProviderKind;
  /** e.g. https://api.openai.com/v1 (no trailing slash). */
  baseUrl: string;
  /** The vault entry holding the API key. */
  keyName: string;
}

export interface CloudModel {
  /** The name a task uses: `<provider>/<model>`. */
  name: string;
  provider: CloudProvider;
  /** The provider's own name for it. */
  upstreamModel: string;
  price: Price;
}

export interface CloudSettings {
  models: CloudModel[];
  maxCostMicroUsdPerTask: number;
  maxOutputTokens: number;
  risk: 'critical' | 'high';
}

export interface CloudEnv {
  CLOSEDPAW_CLOUD_MODELS?: string | undefined;
  CLOSEDPAW_CLOUD_PRICES?: string | undefined;
  CLOSEDPAW_CLOUD_PROVIDERS?: string | undefined;
  CLOSEDPAW_CLOUD_MAX_COST_USD?: string | undefined;
  CLOSEDPAW_CLOUD_MAX_OUTPUT_TOKENS?: string | undefined;
  CLOSEDPAW_CLOUD_RISK?: string | undefined;
}

export const DEFAULT_PROVIDERS: readonly CloudProvider[] = [
  { name: 'openai', kind: 'openai', baseUrl: 'https://api.openai.com/v1', keyName: 'openai' },
  { name: 'anthropic', kind: 'anthropic', baseUrl: 'https://api.anthropic.com/v1', keyName: 'anthropic' },
];

/** The task spec's model pattern (api/agenttask.ts): every cloud model name must pass it. */
const MODEL_NAME = /^[a-z0-9][a-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._:-]*$/;
const PROVIDER_KINDS: readonly ProviderKind[] = ['openai', 'anthropic'];

export class CloudConfigError extends Error {
  override name = 'CloudConfigError';
}

const fail = (variable: string, message: string): never => {
  throw new CloudConfigError(`${variable}: ${message}`);
};

/** The cloud settings, or undefined when CLOSEDPAW_CLOUD_MODELS is unset or empty (cloud off). */
export function parseCloudSettings(env: CloudEnv): CloudSettings | undefined {
  const names = list(env.CLOSEDPAW_CLOUD_MODELS, ',');
  if (names.length === 0) return undefined;
  const providers = parseProviders(env.CLOSEDPAW_CLOUD_PROVIDERS);
  const prices = parsePrices(env.CLOSEDPAW_CLOUD_PRICES);
  const models = names.map((name) => {
    if (!MODEL_NAME.test(name) || name.length > 200) {
      fail(
        'CLOSEDPAW_CLOUD_MODELS',
        `${JSON.stringify(name)} is not <provider>/<model> (e.g. openai/gpt-4o-mini)`,
      );
    }
    const slash = name.indexOf('/');
    const providerName = name.slice(0, slash);
    const provider =
      providers.get(providerName) ??
      fail(
        'CLOSEDPAW_CLOUD_MODELS',
        `${name}: no provider ${JSON.stringify(providerName)} (known: ${[...providers.keys()].join(', ')}; add it to CLOSEDPAW_CLOUD_PROVIDERS)`,
      );
    const price =
      prices.get(name) ??
      fail(
        'CLOSEDPAW_CLOUD_PRICES',
        `${name} has no price: add ${name}=<input>/<output> (USD per 1M tokens)`,
      );
    return { name, provider, upstreamModel: name.slice(slash + 1), price };
  });
  return {
    models,
    maxCostMicroUsdPerTask: Math.round(
      numberIn(env.CLOSEDPAW_CLOUD_MAX_COST_USD, 'CLOSEDPAW_CLOUD_MAX_COST_USD', 0.5, 0.000001, 10_000) * 1e6,
    ),
    maxOutputTokens: Math.floor(
      numberIn(
        env.CLOSEDPAW_CLOUD_MAX_OUTPUT_TOKENS,
        'CLOSEDPAW_CLOUD_MAX_OUTPUT_TOKENS',
        4096,
        1,
        1_000_000,
      ),
    ),
    risk: parseRisk(env.CLOSEDPAW_CLOUD_RISK),
  };
}

function parseProviders(text: string | undefined): Map<string, CloudProvider> {
  const providers = new Map(DEFAULT_PROVIDERS.map((p) => [p.name, p]));
  for (const entry of list(text, ';')) {
    const m = /^([a-z0-9][a-z0-9._-]*)=([a-z]+),([^,\s]+),([^,\s]+)$/.exec(entry);
    if (!m) fail('CLOSEDPAW_CLOUD_PROVIDERS', `${JSON.stringify(entry)} is not name=kind,baseUrl,vaultKey`);
    const [, name, kind, url, keyName] = m as unknown as [string, string, string, string, string];
    if (!PROVIDER_KINDS.includes(kind as ProviderKind)) {
      fail(
        'CLOSEDPAW_CLOUD_PROVIDERS',
        `${name}: kind ${JSON.stringify(kind)} is not one of ${PROVIDER_KINDS.join(', ')}`,
      );
    }
    if (!PROVIDER_PATTERN.test(keyName)) {
      fail(
        'CLOSEDPAW_CLOUD_PROVIDERS',
        `${name}: vault key name ${JSON.stringify(keyName)} must match ${PROVIDER_PATTERN}`,
      );
    }
    providers.set(name, { name, kind: kind as ProviderKind, baseUrl: checkBaseUrl(name, url), keyName });
  }
  return providers;
}

/** https only, except to this machine's loopback (a local proxy or a test's fake provider). */
export function checkBaseUrl(provider: string, url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return fail('CLOSEDPAW_CLOUD_PROVIDERS', `${provider}: ${JSON.stringify(url)} is not a URL`);
  }
  const loopback =
    ['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname) || /^127\./.test(parsed.hostname);
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && loopback)) {
    fail(
      'CLOSEDPAW_CLOUD_PROVIDERS',
      `${provider}: ${url} must be https:// (the API key travels with every call)`,
    );
  }
  if (parsed.username || parsed.password || parsed.search || parsed.hash) {
    fail(
      'CLOSEDPAW_CLOUD_PROVIDERS',
      `${provider}: ${url} must not carry credentials, a query or a fragment`,
    );
  }
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`;
}

function parsePrices(text: string | undefined): Map<string, Price> {
  const prices = new Map<string, Price>();
  for (const entry of list(text, ',')) {
    const m = /^([^=\s]+)=(\d+(?:\.\d+)?)\/(\d+(?:\.\d+)?)$/.exec(entry);
    if (!m)
      fail(
        'CLOSEDPAW_CLOUD_PRICES',
        `${JSON.stringify(entry)} is not model=<input>/<output> (USD per 1M tokens)`,
      );
    const [, model, input, output] = m as unknown as [string, string, string, string];
    prices.set(model, { inputPerMTok: Number(input), outputPerMTok: Number(output) });
  }
  return prices;
}

function parseRisk(text: string | undefined): CloudSettings['risk'] {
  if (text === undefined || text === '') return 'critical';
  if (text === 'critical' || text === 'high') return text;
  return fail('CLOSEDPAW_CLOUD_RISK', `expected critical or high, got ${JSON.stringify(text)}`);
}

function numberIn(text: string | undefined, variable: string, def: number, min: number, max: number): number {
  if (text === undefined || text === '') return def;
  const n = Number(text);
  if (!Number.isFinite(n) || n < min || n > max)
    fail(variable, `expected a number in ${min}..${max}, got ${JSON.stringify(text)}`);
  return n;
}

function list(text: string | undefined, sep: string): string[] {
  return (text ?? '')
    .split(sep)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The allowlisted model a task's model name means (Ollama's `:latest` rule applies: `x` is `x:latest`). */
export function findCloudModel(settings: CloudSettings | undefined, model: string): CloudModel | undefined {
  if (!settings) return undefined;
  const bare = model.endsWith(':latest') ? model.slice(0, -':latest'.length) : model;
  return settings.models.find((m) => m.name === model || m.name === bare);
}

/** Whether a model name claims a cloud provider (`<known provider>/…`), allowlisted or not. */
export function namesCloudProvider(settings: CloudSettings | undefined, model: string): string | undefined {
  const prefix = model.slice(0, Math.max(0, model.indexOf('/')));
  if (prefix === '') return undefined;
  const known = new Set([
    ...DEFAULT_PROVIDERS.map((p) => p.name),
    ...(settings?.models ?? []).map((m) => m.provider.name),
  ]);
  return known.has(prefix) ? prefix : undefined;
}

/**
 * The risk a task's model adds: a cloud model sends the prompt, inputs and tool outputs off this machine.
 * The reason names the provider and model so the Approval shows it.
 */
export function cloudModelRisk(
  settings: CloudSettings | undefined,
  model: string,
): { level: 'critical' | 'high'; reason: string } | undefined {
  const found = findCloudModel(settings, model);
  if (found) {
    return {
      level: settings?.risk ?? 'critical',
      reason: `cloud model ${found.name}: the prompt, inputs and tool outputs are sent to provider ${found.provider.name} (${new URL(found.provider.baseUrl).host})`,
    };
  }
  const provider = namesCloudProvider(settings, model);
  return provider
    ? {
        level: 'critical',
        reason: `model ${model} names cloud provider ${provider} but is not in the operator's cloud allowlist: the gateway will refuse it`,
      }
    : undefined;
}
