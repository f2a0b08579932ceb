/** Prompt-injection screening and secret redaction: pure, synchronous, no I/O. */
export { DEFAULT_THRESHOLD, screen } from './screen.ts';
export { findSecrets } from './secrets.ts';
export type { ScreenOptions, ScreenResult, ScreenWhere, SecretsResult } from './types.ts';
