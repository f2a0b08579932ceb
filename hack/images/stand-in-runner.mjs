// Stand-in for dist/runner.js while the agent runner is not built: it shows the
// image works as the runner will use it (Node 24, uid 65532, read-only root,
// the downward-API task file) and prints what it read. Never shipped as a release.
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';

const taskFile = process.env.CLOSEDPAW_TASK_FILE ?? '/etc/closedpaw/task.json';
const task = readFileSync(taskFile, 'utf8');
console.log(`stand-in runner: node ${process.version} uid ${userInfo().uid}`);
console.log(`stand-in runner: task file ${taskFile} ${JSON.stringify(task)}`);
