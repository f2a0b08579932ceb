/**
 * `closedpaw channel pair CODE`: confirms a pairing code shown in a chat, as yourself. Asks the API
 * server who you are (SelfSubjectReview), creates a ChannelPairing naming you (the admission policy
 * refuses it if that is not you) with the code's sha256 only, and waits for the operator's verdict,
 * which names the chat account you just let decide as you.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { GROUP, VERSION } from '../api/meta.ts';
import { whoAmI } from '../cli/approvals.ts';
import { errorMessage } from '../k8s/errors.ts';
import { codeDigest, isCodeShaped } from './pairing.ts';
import { CHANNEL_PAIRING, type ChannelPairing } from './pairing-resource.ts';

export interface ChannelCliIo {
  stdout(s: string): void;
  stderr(s: string): void;
}

const USAGE = `usage: closedpaw channel pair CODE
  confirm a pairing code the bot showed you in Telegram, Discord or Slack (/pair): afterwards that chat
  account's Approve/Deny buttons decide as your Kubernetes user. Only confirm a code you asked for.`;

export async function runChannelCli(
  argv: string[],
  io: ChannelCliIo,
  opts: { kubeConfig?: KubeConfig; timeoutMs?: number } = {},
): Promise<number> {
  const [verb, code, ...extra] = argv;
  if (verb !== 'pair' || !code || extra.length > 0) {
    io.stderr(USAGE);
    return 2;
  }
  if (!isCodeShaped(code)) {
    io.stderr(`closedpaw channel: ${JSON.stringify(code)} is not a pairing code (it looks like ABCD-EFGH)`);
    return 2;
  }
  const kc = opts.kubeConfig ?? defaultKubeConfig();
  try {
    const user = await whoAmI(kc);
    const custom = kc.makeApiClient(CustomObjectsApi);
    const path = { group: GROUP, version: VERSION, plural: CHANNEL_PAIRING.plural };
    const created = (await custom.createClusterCustomObject({
      ...path,
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: CHANNEL_PAIRING.kind,
        metadata: { generateName: 'pair-' },
        spec: { user, codeDigest: codeDigest(code) },
      },
    })) as ChannelPairing;
    const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
    while (Date.now() < deadline) {
      const current = (await custom.getClusterCustomObject({
        ...path,
        name: created.metadata.name,
      })) as ChannelPairing;
      const status = current.status;
      if (status?.phase === 'Paired') {
        io.stdout(
          `paired ${status.account ?? 'the chat account'} with Kubernetes user ${user}: its buttons now decide as you`,
        );
        return 0;
      }
      if (status?.phase === 'Rejected') {
        io.stderr(`closedpaw channel: not paired: ${status.message ?? 'rejected'}`);
        return 1;
      }
      await sleep(250);
    }
    io.stderr(
      'closedpaw channel: the operator did not answer within 30 s (is it running, with channels on?)',
    );
    return 1;
  } catch (err) {
    io.stderr(`closedpaw channel: ${errorMessage(err)}`);
    return 1;
  }
}

function defaultKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
}
