/** Where a text comes from: changes how it is read (e.g. model output is also checked for secrets). */
export type ScreenWhere = 'prompt' | 'input' | 'tool_output' | 'model_output';

export interface ScreenOptions {
  /** Flag when score >= threshold (0..1). Default DEFAULT_THRESHOLD. */
  threshold?: number;
  where?: ScreenWhere;
}

export interface ScreenResult {
  flagged: boolean;
  /** Probability-like score in [0, 1]; higher = more likely an injection. */
  score: number;
  /** Short human-readable reasons (at most 8, each at most 200 chars), strongest first. */
  reasons: string[];
}

export interface SecretsResult {
  /** The text with every secret-shaped string replaced by `[REDACTED:<kind>]`. */
  redacted: string;
  /** Kinds found, deduplicated, in order of first appearance (e.g. 'aws-access-key', 'jwt'). */
  found: string[];
}
