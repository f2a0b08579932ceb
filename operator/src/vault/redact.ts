// pino options that keep vault secrets out of logs. Use as `pino({ ...vaultLoggerOptions, ... })`.
// Two layers: SecretValue renders as "[REDACTED]" wherever it is logged, and `redact` censors the usual
// field names in case a revealed plaintext ends up in a log object anyway.
import type { LoggerOptions } from 'pino';
import { REDACTED, SecretValue } from './secret.ts';

const SECRET_FIELDS = ['apiKey', 'api_key', 'secret', 'token', 'password', 'authorization', 'plaintext'];

/** Paths censored by pino: each field at the top level and up to two objects deep, plus HTTP headers. */
export const vaultRedactPaths: readonly string[] = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((f) => `*.${f}`),
  ...SECRET_FIELDS.map((f) => `*.*.${f}`),
  'headers["x-api-key"]',
  '*.headers["x-api-key"]',
  '*.headers.authorization',
];

/** Serializer for a field that may hold a SecretValue or a raw secret string. */
export function secretSerializer(value: unknown): unknown {
  return value instanceof SecretValue || typeof value === 'string' ? REDACTED : value;
}

export const vaultLoggerOptions = {
  redact: { paths: [...vaultRedactPaths], censor: REDACTED },
  serializers: { secret: secretSerializer, apiKey: secretSerializer },
} satisfies LoggerOptions;
