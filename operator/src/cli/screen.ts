// `closedpaw screen`: prompt-injection screening of JSON lines {"id", "text"} read from stdin; writes one
// line {"id", "flagged", "score", "reasons"} per input line. Invalid lines are reported and skipped.
import { parseArgs } from 'node:util';
import type { ScreenWhere } from '../screening/index.ts';
import { screen } from '../screening/index.ts';

export interface ScreenCliIo {
  stdin: AsyncIterable<string | Uint8Array> | NodeJS.ReadableStream;
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

/** Longer lines are reported and skipped instead of buffered without bound. */
export const MAX_LINE_CHARS = 16 * 1024 * 1024;

const WHERE: readonly ScreenWhere[] = ['prompt', 'input', 'tool_output', 'model_output'];

const USAGE = `usage: closedpaw screen [--threshold T] [--where ${WHERE.join('|')}] < lines.jsonl
  reads JSON lines {"id": ..., "text": "..."} on stdin (id optional: defaults to the line number)
  writes one line each: {"id": ..., "flagged": true|false, "score": 0..1, "reasons": [...]}
  invalid lines are reported on stderr as "line N: ..." and skipped
exit codes: 0 ok, 2 usage error`;

export const OPTIONS = {
  threshold: { type: 'string' },
  where: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

class UsageError extends Error {}

export async function runScreenCli(args: string[], io: ScreenCliIo): Promise<number> {
  let options: { threshold?: number; where?: ScreenWhere };
  try {
    const { values, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true });
    if (values.help) {
      io.stdout(`${USAGE}\n`);
      return 0;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument: ${positionals[0]}`);
    options = { threshold: parseThreshold(values.threshold), where: parseWhere(values.where) };
  } catch (err) {
    const usage =
      err instanceof UsageError || (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS');
    io.stderr(`closedpaw screen: ${(err as Error).message}\n${usage ? `${USAGE}\n` : ''}`);
    return 2;
  }
  let lineNumber = 0;
  for await (const line of lines(io.stdin, (n) =>
    io.stderr(`line ${n}: longer than ${MAX_LINE_CHARS} characters, skipped\n`),
  )) {
    lineNumber++;
    if (line === undefined) continue;
    const reply = screenLine(line, lineNumber, options);
    if (typeof reply === 'string') io.stdout(`${reply}\n`);
    else if (reply) io.stderr(`line ${lineNumber}: ${reply.error}\n`);
  }
  return 0;
}

function parseThreshold(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const t = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(t) || t < 0 || t > 1)
    throw new UsageError(`--threshold: want a number from 0 to 1, got "${raw}"`);
  return t;
}

function parseWhere(raw: string | undefined): ScreenWhere | undefined {
  if (raw === undefined) return undefined;
  if (!(WHERE as readonly string[]).includes(raw))
    throw new UsageError(`--where: want one of ${WHERE.join(', ')}, got "${raw}"`);
  return raw as ScreenWhere;
}

/** The output line for one input line; undefined for a blank line; {error} for an invalid one. */
function screenLine(
  line: string,
  lineNumber: number,
  options: { threshold?: number; where?: ScreenWhere },
): string | { error: string } | undefined {
  if (line.trim() === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (err) {
    return { error: `invalid JSON (${(err as Error).message})` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return { error: 'want a JSON object {"id": ..., "text": "..."}' };
  const { id = lineNumber, text } = parsed as { id?: unknown; text?: unknown };
  if (typeof text !== 'string')
    return { error: `"text" must be a string, got ${text === undefined ? 'nothing' : typeof text}` };
  const result = screen(text, options);
  return JSON.stringify({ id, flagged: result.flagged, score: result.score, reasons: result.reasons });
}

/**
 * Splits a byte or string stream into lines (UTF-8, "\n" or "\r\n"); yields undefined in place of a line
 * longer than MAX_LINE_CHARS characters (after calling onTooLong with its number), so line numbers stay right.
 */
async function* lines(
  input: AsyncIterable<string | Uint8Array> | NodeJS.ReadableStream,
  onTooLong: (lineNumber: number) => void,
): AsyncGenerator<string | undefined> {
  const decoder = new TextDecoder('utf-8');
  let pending = '';
  let skipping = false;
  let lineNumber = 0;
  const emit = function* (piece: string): Generator<string | undefined> {
    lineNumber++;
    if (skipping) {
      skipping = false;
      yield undefined;
    } else yield piece.endsWith('\r') ? piece.slice(0, -1) : piece;
  };
  for await (const chunk of input as AsyncIterable<string | Uint8Array>) {
    pending += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let newline = pending.indexOf('\n'); newline !== -1; newline = pending.indexOf('\n', start)) {
      yield* emit(pending.slice(start, newline));
      start = newline + 1;
    }
    pending = pending.slice(start);
    if (pending.length > MAX_LINE_CHARS) {
      if (!skipping) onTooLong(lineNumber + 1);
      skipping = true;
      pending = '';
    }
  }
  pending += decoder.decode();
  if (pending.length > 0 || skipping) yield* emit(pending);
}
