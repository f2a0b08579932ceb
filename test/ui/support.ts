/**
 * Shared by the approval UI end-to-end tests: build the UI when ui/dist is
 * missing, pick a free loopback port, grant approver RBAC, run the operator with
 * its UI, talk to the UI's JSON API, and launch Debian's headless Chromium
 * through playwright-core.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { type Browser, chromium } from 'playwright-core';
import { parse, stringify } from 'yaml';
import type { RunningOperator } from '../../operator/src/operator.ts';
import { UI_DIST_DIR } from '../../operator/src/server/ui/index.ts';
import { kubectl } from '../support/kube.ts';
import { runOperator } from '../support/operator.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
export const ADMIN = 'closedpaw-admin';
export const CHROMIUM = process.env.CLOSEDPAW_CHROMIUM ?? '/usr/bin/chromium';

let building: Promise<void> | undefined;

/** Builds ui/dist with Vite unless it is there already (`npm run ui:build` normally did it). */
export function ensureUiBuilt(): Promise<void> {
  if (existsSync(join(UI_DIST_DIR, 'index.html'))) return Promise.resolve();
  building ??= new Promise<void>((done, fail) => {
    const child = spawn(
      join(ROOT, 'node_modules/.bin/node'),
      [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--config', join(ROOT, 'ui/vite.config.ts')],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    child.once('error', fail);
    child.once('close', (code) =>
      code === 0 && existsSync(join(UI_DIST_DIR, 'index.html'))
        ? done()
        : fail(new Error(`vite build failed (${code}):\n${output}`)),
    );
  });
  return building;
}

export { freePort } from '../../hack/cluster/processes.ts';

export const newUiToken = () => randomBytes(32).toString('base64url');

/** The approver role as shipped (crds/approver-role.yaml, also in the chart), not a test copy. */
const APPROVER_ROLE_FILE = join(ROOT, 'crds/approver-role.yaml');
const APPROVER_ROLE = 'closedpaw-approver';

export type RbacSubject = { kind: 'User' | 'Group'; name: string };

/**
 * What a real installation grants its human approver: read tasks and approvals,
 * patch approvals (the API server's policy then checks decidedBy). The UI
 * impersonates the bare user name (plus CLOSEDPAW_UI_APPROVER_GROUPS), without the
 * groups of the admin certificate (system:masters), so that user, or one of those
 * groups, needs this RoleBinding in the namespace.
 */
export async function grantApprover(namespace: string, subject: string | RbacSubject = ADMIN): Promise<void> {
  const { kind, name } = typeof subject === 'string' ? { kind: 'User' as const, name: subject } : subject;
  const docs = [
    parse(await readFile(APPROVER_ROLE_FILE, 'utf8')),
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: `closedpaw-ui-approver-${kind.toLowerCase()}-${name}`, namespace },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: APPROVER_ROLE },
      subjects: [{ kind, name, apiGroup: 'rbac.authorization.k8s.io' }],
    },
  ];
  const result = await kubectl(['apply', '-f', '-'], docs.map((d) => stringify(d)).join('---\n'));
  if (result.code !== 0)
    throw new Error(`granting ${kind} ${name} the approver role failed: ${result.stderr}`);
}

export interface OperatorWithUi {
  operator: RunningOperator;
  /** http://127.0.0.1:PORT/#token=… */
  url: string;
  stop(): Promise<void>;
}

export interface UiOptions {
  port: number;
  /** CLOSEDPAW_UI_TOKEN; or set CLOSEDPAW_UI_TOKEN_FILE in `env`. */
  token?: string;
  env?: Record<string, string>;
  /** CLOSEDPAW_UI_APPROVER (closedpaw-admin); granted the approver role unless `grant` is false. */
  approver?: string;
  grant?: boolean;
}

/**
 * The operator with its approval UI, configured the way a user would (CLOSEDPAW_UI_ADDR / _APPROVER /
 * _APPROVER_GROUPS / _TOKEN or _TOKEN_FILE).
 */
export async function startOperatorWithUi(
  kc: KubeConfig,
  namespace: string,
  opts: UiOptions,
): Promise<OperatorWithUi> {
  const approver = opts.approver ?? ADMIN;
  if (opts.grant !== false) await grantApprover(namespace, approver);
  const operator = await runOperator(kc, namespace, {
    CLOSEDPAW_UI_ADDR: `127.0.0.1:${opts.port}`,
    CLOSEDPAW_UI_APPROVER: approver,
    ...(opts.token ? { CLOSEDPAW_UI_TOKEN: opts.token } : {}),
    ...opts.env,
  });
  if (!operator.uiUrl) throw new Error('the operator did not start its approval UI');
  return { operator, url: operator.uiUrl, stop: () => operator.stop() };
}

export interface UiResponse {
  status: number;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * One request to the UI's JSON API as its own page would send it (Host and, for writes, Origin of the
 * UI itself; `Authorization: Bearer`), unless `headers` says otherwise.
 */
export function uiRequest(
  port: number,
  token: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<UiResponse> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const all: Record<string, string> = {
    host: `127.0.0.1:${port}`,
    authorization: `Bearer ${token}`,
    ...(method === 'POST' ? { origin: `http://127.0.0.1:${port}` } : {}),
    ...(payload
      ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }
      : {}),
    ...headers,
  };
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: all }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // not JSON: keep the text
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, headers: res.headers });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * Headless Debian Chromium; `hostMap` resolves extra names to 127.0.0.1 (DNS-rebinding tests);
 * `extraArgs` e.g. `--disable-web-security` (a browser that enforces no CORS: only the server's checks remain).
 */
export async function launchChromium(hostMap: string[] = [], extraArgs: string[] = []): Promise<Browser> {
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ];
  if (hostMap.length > 0)
    args.push(`--host-resolver-rules=${hostMap.map((h) => `MAP ${h} 127.0.0.1`).join(',')}`);
  args.push(...extraArgs);
  return await chromium.launch({ executablePath: CHROMIUM, args });
}
