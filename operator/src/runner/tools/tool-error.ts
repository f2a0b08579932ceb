/**
 * A tool call that could not be carried out. The message is for the model
 * (it sees it as the tool's result); the code is what the step log records.
 */
export const TOOL_ERROR_CODES = [
  'invalid_path',
  'outside_workspace',
  'not_found',
  'not_a_file',
  'not_a_directory',
  'too_large',
  'write_budget_exhausted',
  'binary_file',
  'unverifiable',
  'io_error',
  'timeout',
  'unknown_tool',
  'invalid_arguments',
] as const;
export type ToolErrorCode = (typeof TOOL_ERROR_CODES)[number];

export class ToolError extends Error {
  readonly code: ToolErrorCode;
  constructor(code: ToolErrorCode, message: string) {
    super(message);
    this.name = 'ToolError';
    this.code = code;
  }
}

/** A name the model chose, quoted and shortened for an error message. */
export function quoted(text: string, max = 200): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}
