/**
 * The operator's own kubeconfig loader. client-node's KubeConfig drags its
 * whole generated API (about 80 MB of resident memory, measured) into any
 * process that imports it; the operator needs only a server, TLS material and
 * a credential. Supported: in-cluster service-account tokens (re-read, they
 * rotate), client certificates, bearer tokens and token files, basic auth.
 * Exec and auth-provider plugins are refused with a clear error.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import type { KubeConnection } from './rest.ts';

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** Re-read token files this often: projected service-account tokens are rotated by the kubelet. */
const TOKEN_FILE_TTL_MS = 60_000;

const clusterSchema = z
  .object({
    server: z.url(),
    'certificate-authority': z.string().optional(),
    'certificate-authority-data': z.string().optional(),
    'insecure-skip-tls-verify': z.boolean().optional(),
    'tls-server-name': z.string().optional(),
  })
  .loose();

const userSchema = z
  .object({
    'client-certificate': z.string().optional(),
    'client-certificate-data': z.string().optional(),
    'client-key': z.string().optional(),
    'client-key-data': z.string().optional(),
    token: z.string().optional(),
    tokenFile: z.string().optional(),
    username: z.string().optional(),
    password: z.string().optional(),
    exec: z.unknown().optional(),
    'auth-provider': z.unknown().optional(),
  })
  .loose();

const kubeconfigSchema = z
  .object({
    'current-context': z.string().optional(),
    clusters: z.array(z.object({ name: z.string(), cluster: clusterSchema })),
    users: z.array(z.object({ name: z.string(), user: userSchema })).default([]),
    contexts: z.array(
      z.object({ name: z.string(), context: z.object({ cluster: z.string(), user: z.string().optional() }) }),
    ),
  })
  .loose();

export class KubeconfigError extends Error {}

interface Credentials {
  server: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  insecure: boolean;
  servername?: string;
  authorization?: () => string | undefined;
}

class Connection implements KubeConnection {
  private readonly creds: Credentials;

  constructor(creds: Credentials) {
    this.creds = creds;
  }

  getCurrentCluster() {
    return { server: this.creds.server };
  }

  async applyToHTTPSOptions(opts: RequestOptions): Promise<void> {
    const { ca, cert, key, insecure, servername, authorization } = this.creds;
    if (ca) opts.ca = ca;
    if (cert) opts.cert = cert;
    if (key) opts.key = key;
    if (insecure) opts.rejectUnauthorized = false;
    if (servername) opts.servername = servername;
    const auth = authorization?.();
    if (auth) opts.headers = { ...(opts.headers as Record<string, string>), Authorization: auth };
  }
}

/** A token file read at most once a minute. */
function tokenFromFile(path: string): () => string {
  let cached = '';
  let readAt = 0;
  return () => {
    if (Date.now() - readAt > TOKEN_FILE_TTL_MS) {
      cached = readFileSync(path, 'utf8').trim();
      readAt = Date.now();
    }
    return `Bearer ${cached}`;
  };
}

const fromData = (data: string | undefined) => (data ? Buffer.from(data, 'base64') : undefined);
const fromFile = (base: string, path: string | undefined) =>
  path ? readFileSync(isAbsolute(path) ? path : join(base, path)) : undefined;

function inCluster(env: NodeJS.ProcessEnv): KubeConnection {
  const host = env.KUBERNETES_SERVICE_HOST!;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  return new Connection({
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    ca: readFileSync(join(SERVICE_ACCOUNT_DIR, 'ca.crt')),
    insecure: false,
    authorization: tokenFromFile(join(SERVICE_ACCOUNT_DIR, 'token')),
  });
}

function fromKubeconfigFile(path: string): KubeConnection {
  let raw: unknown;
  try {
    raw = parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new KubeconfigError(`cannot read kubeconfig ${path}: ${(error as Error).message}`);
  }
  const parsed = kubeconfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new KubeconfigError(`kubeconfig ${path}: ${issue?.path.join('.')}: ${issue?.message}`);
  }
  const config = parsed.data;
  const contextName = config['current-context'];
  const context = config.contexts.find((c) => c.name === contextName)?.context;
  if (!context)
    throw new KubeconfigError(`kubeconfig ${path}: current-context "${contextName ?? ''}" not found`);
  const cluster = config.clusters.find((c) => c.name === context.cluster)?.cluster;
  if (!cluster) throw new KubeconfigError(`kubeconfig ${path}: cluster "${context.cluster}" not found`);
  const user = config.users.find((u) => u.name === context.user)?.user ?? {};
  if (user.exec || user['auth-provider']) {
    throw new KubeconfigError(
      `kubeconfig ${path}: user "${context.user}" uses an exec or auth-provider plugin, which the operator does not run; give it a certificate or token kubeconfig`,
    );
  }
  const base = dirname(path);
  const creds: Credentials = {
    server: cluster.server,
    insecure: cluster['insecure-skip-tls-verify'] === true,
  };
  const ca =
    fromData(cluster['certificate-authority-data']) ?? fromFile(base, cluster['certificate-authority']);
  const cert = fromData(user['client-certificate-data']) ?? fromFile(base, user['client-certificate']);
  const key = fromData(user['client-key-data']) ?? fromFile(base, user['client-key']);
  if (ca) creds.ca = ca;
  if (cert) creds.cert = cert;
  if (key) creds.key = key;
  if (cluster['tls-server-name']) creds.servername = cluster['tls-server-name'];
  if (user.token) creds.authorization = () => `Bearer ${user.token}`;
  else if (user.tokenFile)
    creds.authorization = tokenFromFile(
      isAbsolute(user.tokenFile) ? user.tokenFile : join(base, user.tokenFile),
    );
  else if (user.username !== undefined) {
    const basic = Buffer.from(`${user.username}:${user.password ?? ''}`).toString('base64');
    creds.authorization = () => `Basic ${basic}`;
  }
  return new Connection(creds);
}

/**
 * $KUBECONFIG (its first file), else the in-cluster service account, else ~/.kube/config.
 * `undefined` when none of them exists.
 */
export function loadKubeConnection(env: NodeJS.ProcessEnv = process.env): KubeConnection | undefined {
  const file = env.KUBECONFIG?.split(':').find(Boolean);
  if (file) return fromKubeconfigFile(file);
  if (env.KUBERNETES_SERVICE_HOST) return inCluster(env);
  const home = join(homedir(), '.kube/config');
  return existsSync(home) ? fromKubeconfigFile(home) : undefined;
}
