/** JSON logs (pino) with ISO timestamps; secrets and prompt bodies are redacted. */
import { pino } from 'pino';

export const REDACT_PATHS = [
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'req.headers.authorization',
  'apiKey',
  '*.apiKey',
  'spec.prompt',
  '*.spec.prompt',
];

export function createLogger(level: string) {
  return pino({
    level,
    // `service` names the process; children name their part with `component` (no key given twice).
    base: { service: 'closedpaw-operator' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  });
}

export type Logger = ReturnType<typeof createLogger>;
