/**
 * `closedpaw ui`: port-forwards a local loopback port to the approval UI, which listens on the operator
 * pod's loopback (a port-forward arrives there), and prints the URL with the session token in the
 * fragment (never the query: it stays out of logs and Referer). `closedpaw ui token rotate --file F`
 * writes a new token into a token file.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import {
  CoreV1Api,
  type KubeConfig,
  PortForward,
  type V1Container,
  type V1Deployment,
} from '@kubernetes/client-node';
import { rotateTokenFile } from '../server/ui/token.ts';
import { type CliIo, explainApiError, Failure, runVerb, UsageError } from './common.ts';
import {
  DEFAULT_NAMESPACE,
  envValue,
  operatorPods,
  podProblem,
  podReady,
  requireOperator,
} from './operator-location.ts';

export const UI_USAGE = `usage: closedpaw ui [-n NAMESPACE] [--release R] [--port P] [--open]
  Port-forwards 127.0.0.1:P to the approval UI in the operator pod and prints its URL, with the session
  token in the URL's fragment (#token=…). Keep it running while you use the UI; Ctrl-C ends it.
  -n, --namespace NS   the operator's namespace (default ${DEFAULT_NAMESPACE})
  --release R          the Helm release, when the namespace holds more than one
  --port P             local port (default: the UI's own port, 7780 unless configured)
  --open               open the URL in a browser (xdg-open / open)
  closedpaw ui token rotate --file FILE   write a new UI token into FILE (the old one stops working)
The token is read from the Secret the operator's token comes from (you need "get secrets" there).
exit codes: 0 ended by Ctrl-C, 1 failed, 2 usage error`;

export const OPTIONS = {
  namespace: { type: 'string', short: 'n' },
  release: { type: 'string' },
  port: { type: 'string' },
  open: { type: 'boolean', default: false },
  file: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export type TokenSource = { kind: 'secret'; secret: string; key: string } | { kind: 'none'; why: string };

/**
 * Where the operator's UI token comes from, read from its Deployment: CLOSEDPAW_UI_TOKEN from a Secret
 * key, or CLOSEDPAW_UI_TOKEN_FILE on a Secret volume (the chart's way).
 */
export function uiTokenSource(deployment: V1Deployment, container: V1Container): TokenSource {
  const direct = container.env?.find((e) => e.name === 'CLOSEDPAW_UI_TOKEN');
  if (direct?.valueFrom?.secretKeyRef) {
    return {
      kind: 'secret',
      secret: direct.valueFrom.secretKeyRef.name!,
      key: direct.valueFrom.secretKeyRef.key,
    };
  }
  if (direct?.value) {
    return {
      kind: 'none',
      why: 'the token is written into the Deployment (CLOSEDPAW_UI_TOKEN): read it there',
    };
  }
  const file = envValue(container, 'CLOSEDPAW_UI_TOKEN_FILE');
  if (!file) {
    return {
      kind: 'none',
      why: 'the operator generates its own UI token inside the pod: set uiTokenSecret (or keep the chart default) so it comes from a Secret',
    };
  }
  const mount = (container.volumeMounts ?? [])
    .filter((m) => file === m.mountPath || file.startsWith(`${m.mountPath.replace(/\/$/, '')}/`))
    .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
  const volume = deployment.spec?.template.spec?.volumes?.find((v) => v.name === mount?.name);
  if (!mount || !volume?.secret?.secretName) {
    return { kind: 'none', why: `the token file ${file} is not on a Secret volume: read it in the pod` };
  }
  const relative = file.slice(mount.mountPath.replace(/\/$/, '').length + 1);
  const item = volume.secret.items?.find((i) => i.path === relative);
  return { kind: 'secret', secret: volume.secret.secretName, key: item?.key ?? relative };
}

/** host:port of CLOSEDPAW_UI_ADDR; undefined when the UI is off. */
export function uiPort(container: V1Container): number | undefined {
  const addr = envValue(container, 'CLOSEDPAW_UI_ADDR') ?? '127.0.0.1:7780';
  if (addr === 'off') return undefined;
  const port = Number(addr.slice(addr.lastIndexOf(':') + 1));
  return Number.isInteger(port) && port > 0 ? port : undefined;
}

/** The URL to open: the token goes in the fragment, which browsers never send to the server. */
export const uiUrl = (port: number, token: string) =>
  `http://127.0.0.1:${port}/#token=${encodeURIComponent(token)}`;

/** Forwards one local connection to the pod's port (a seam: tests forward to a local server). */
export type Forward = (socket: Socket) => Promise<void>;

export function podForward(kc: KubeConfig, namespace: string, pod: string, port: number): Forward {
  const forwarder = new PortForward(kc);
  return async (socket) => {
    const ws = await forwarder.portForward(namespace, pod, [port], socket, null, socket);
    const close = () => (typeof ws === 'function' ? ws()?.close() : ws.close());
    socket.once('close', close);
  };
}

/** Listens on 127.0.0.1:port and forwards each connection; errors of one connection end only it. */
export async function listenForwarding(
  port: number,
  forward: Forward,
  onError: (error: unknown) => void,
): Promise<Server> {
  const server = createServer((socket) => {
    forward(socket).catch((error: unknown) => {
      onError(error);
      socket.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new Failure(
              `local port ${port} is in use (another closedpaw ui, or a local operator?): stop it, or pass --port`,
            )
          : error,
      ),
    );
    server.listen(port, '127.0.0.1', resolve);
  });
  return server;
}

function openBrowser(url: string): void {
  const opener = process.platform === 'darwin' ? 'open' : 'xdg-open';
  const child = spawn(opener, [url], { stdio: 'ignore', detached: true });
  child.on('error', () => undefined);
  child.unref();
}

function rotate(file: string | undefined, io: CliIo): number {
  if (!file) throw new UsageError('ui token rotate needs --file FILE');
  try {
    rotateTokenFile(file);
  } catch (error) {
    throw new Failure((error as Error).message);
  }
  io.stdout(`wrote a new UI token to ${file}: the old one stops working at the next request\n`);
  return 0;
}

export interface UiDeps {
  kubeConfig?: KubeConfig;
  /** Resolves when the user ends the forwarding (default: SIGINT/SIGTERM). */
  until?: Promise<void>;
  forward?: Forward;
}

const stopSignal = () =>
  new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });

export function runUiCli(argv: string[], io: CliIo, deps: UiDeps = {}): Promise<number> {
  return runVerb(
    { name: 'ui', usage: UI_USAGE, options: OPTIONS },
    argv,
    io,
    deps,
    async ({ values, positionals, kubeConfig }) => {
      if (positionals[0] === 'token') {
        if (positionals[1] !== 'rotate' || positionals.length > 2)
          throw new UsageError('usage: closedpaw ui token rotate --file FILE');
        return rotate(values.file, io);
      }
      if (positionals.length > 0) throw new UsageError(`unexpected argument: ${positionals[0]}`);
      const localPort = values.port === undefined ? undefined : Number(values.port);
      if (localPort !== undefined && (!Number.isInteger(localPort) || localPort < 1 || localPort > 65535)) {
        throw new UsageError(`--port: "${values.port}" is not a port number`);
      }
      const kc = kubeConfig();
      const namespace = values.namespace ?? DEFAULT_NAMESPACE;
      const operator = await requireOperator(kc, namespace, values.release);
      const remotePort = uiPort(operator.container);
      if (remotePort === undefined) {
        throw new Failure(
          'the approval UI is off in this installation (CLOSEDPAW_UI_ADDR=off): enable it with --set ui.enabled=true',
        );
      }
      // Any local port works: the UI accepts a loopback Host with any port (it is the name that stops rebinding).
      const port = localPort ?? remotePort;
      const source = uiTokenSource(operator.deployment, operator.container);
      if (source.kind === 'none') throw new Failure(`cannot read the UI token: ${source.why}`);
      let token: string;
      try {
        const secret = await kc
          .makeApiClient(CoreV1Api)
          .readNamespacedSecret({ namespace, name: source.secret });
        const data = secret.data?.[source.key];
        if (!data) throw new Failure(`Secret ${namespace}/${source.secret} has no key "${source.key}"`);
        token = Buffer.from(data, 'base64')
          .toString('utf8')
          .replace(/\r?\n$/, '');
      } catch (error) {
        if (error instanceof Failure) throw error;
        throw new Failure(
          explainApiError(error, kc, `get secrets/${source.secret} in namespace ${namespace}`),
        );
      }
      const pods = await operatorPods(kc, operator);
      const pod = pods.find(podReady);
      if (!pod)
        throw new Failure(
          `the operator is not Ready: ${podProblem(pods[0])}; closedpaw doctor -n ${namespace} says more`,
        );
      const forward = deps.forward ?? podForward(kc, namespace, pod.metadata!.name!, remotePort);
      const server = await listenForwarding(port, forward, (error) =>
        io.stderr(`closedpaw ui: a connection failed: ${explainApiError(error, kc)}\n`),
      );
      const url = uiUrl(port, token);
      io.stderr(
        `forwarding 127.0.0.1:${port} → ${namespace}/${pod.metadata!.name}:${remotePort} (Ctrl-C ends it)\n`,
      );
      io.stdout(`${url}\n`);
      if (values.open) openBrowser(url);
      await (deps.until ?? stopSignal());
      await new Promise((resolve) => server.close(resolve));
      return 0;
    },
  );
}
