/**
 * How the operator process is started, wherever it is: `npm run operator` (package.json, kept equal by a
 * test), the operator image (hack/images), and the tests and benchmarks that run it as a child process.
 */

const BUNDLE = 'operator-bundle';
/** The bundle `npm run build` writes (operator/src/vite.config.ts), relative to the project root. */
export const OPERATOR_BUNDLE_DIR = `dist/${BUNDLE}`;
/** Its entry inside dist/ (the image copies dist/ as a whole), and from the project root. */
export const OPERATOR_MAIN_IN_DIST = `${BUNDLE}/main.js`;
export const OPERATOR_MAIN = `dist/${OPERATOR_MAIN_IN_DIST}`;

/**
 * V8 flags: a 1 MB young generation and a heap tuned for size keep the resident memory down with 1,000
 * tasks, while the latency targets still hold (npm run bench).
 */
export const OPERATOR_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--optimize-for-size'];

/**
 * Environment: one glibc malloc arena. By default every thread that allocates (libuv's pool, V8's compiler
 * and GC workers) gets an arena of its own, each holding freed memory the others cannot reuse; one arena
 * measured 6-7 MB less resident memory with 1,000 tasks, and no latency cost (npm run bench).
 */
export const OPERATOR_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '1' };

/** OPERATOR_ENV as `NAME=value` words, for a shell command or an image config. */
export const operatorEnvWords = (): string[] => Object.entries(OPERATOR_ENV).map(([k, v]) => `${k}=${v}`);
