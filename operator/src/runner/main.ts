/**
 * Entry of the agent runner (bundled to dist/runner.js; in the pod
 * /opt/closedpaw/runner.js). Environment in, exit code out: 0 with a result
 * frame on stdout, 1 with the failure on the termination log. Stderr carries
 * only the JSON step lines, so library chatter (console, process warnings) is
 * silenced, and anything uncaught still ends as a RunnerCrashed failure.
 */

import { toFailure, writeTerminationLog } from './failure.ts';
import { runFromEnv, settingsFrom } from './run.ts';
import { createStepLog } from './step-log.ts';

const writeErr = (text: string) => process.stderr.write(text);
const log = createStepLog(writeErr);

for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) console[method] = () => {};
process.removeAllListeners('warning');

const crash = (error: unknown) => {
  const failed = toFailure(error);
  writeTerminationLog(settingsFrom(process.env).terminationLog, failed);
  log({ event: 'failed', reason: failed.reason, message: failed.message });
  process.exit(1);
};
process.on('uncaughtException', crash);
process.on('unhandledRejection', crash);

const io = { stdout: (text: string) => process.stdout.write(text), stderr: writeErr };
const code = await runFromEnv(process.env, io, import.meta.filename);
// A command that escaped its process group must not keep the pod alive: flush, then leave.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
