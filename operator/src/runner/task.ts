/**
 * The task as the pod sees it: the canonical spec JSON in a read-only file.
 * Anything unreadable, oversized, not JSON or not a valid spec is
 * `TaskFileInvalid`, with the field and the problem named.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { z } from 'zod';
import { type AgentTaskSpec, agentTaskSpecSchema } from '../api/agenttask.ts';
import { RunFailure } from './failure.ts';
import { LIMITS } from './limits.ts';

export function readTaskFile(path: string, maxBytes: number = LIMITS.taskFileMaxBytes): AgentTaskSpec {
  return parseTask(readBounded(path, maxBytes), path);
}

export function parseTask(text: string, source: string): AgentTaskSpec {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new RunFailure(
      'TaskFileInvalid',
      `the task file ${source} is not JSON: ${(error as Error).message}`,
    );
  }
  const parsed = agentTaskSpecSchema.safeParse(json);
  if (!parsed.success) {
    throw new RunFailure(
      'TaskFileInvalid',
      `the task file ${source} is not a valid AgentTask spec:\n${z.prettifyError(parsed.error)}`,
    );
  }
  return parsed.data;
}

function readBounded(path: string, maxBytes: number): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw new RunFailure('TaskFileInvalid', `cannot read the task file ${path}: ${(error as Error).message}`);
  }
  try {
    if (!fstatSync(fd).isFile())
      throw new RunFailure('TaskFileInvalid', `the task file ${path} is not a file`);
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (let n = 1; n > 0 && length < buffer.length; length += n) {
      n = readSync(fd, buffer, length, buffer.length - length, null);
    }
    if (length > maxBytes) {
      throw new RunFailure('TaskFileInvalid', `the task file ${path} is larger than ${maxBytes} bytes`);
    }
    return buffer.toString('utf8', 0, length);
  } finally {
    closeSync(fd);
  }
}
