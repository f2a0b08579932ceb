/**
 * `closedpaw channel pair CODE`: confirms a pairing code shown in a chat, as yourself. Asks the API
 * server who you are (SelfSubjectReview), then confirms as that user (pairing-request.ts); the verdict
 * names the chat account you just let decide as you.
 */
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { GROUP, VERSION } from '../api/meta.ts';
import { whoAmI } from '../cli/approvals.ts';
import { errorMessage } from '../k8s/errors.ts';
import { isCodeShaped } from './pairing.ts';
import { confirmPairing, type PairingRequests } from './pairing-request.ts';
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
    const verdict = await confirmPairing(clusterPairingRequests(kc), user, code, {
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    });
    if (verdict.phase === 'Paired') {
      io.stdout(`paired ${verdict.account} with Kubernetes user ${user}: its buttons now decide as you`);
      return 0;
    }
    io.stderr(`closedpaw channel: ${verdict.phase === 'Rejected' ? 'not paired: ' : ''}${verdict.message}`);
    return 1;
  } catch (err) {
    io.stderr(`closedpaw channel: ${errorMessage(err)}`);
    return 1;
  }
}

/** ChannelPairings through the CLI user's own kubeconfig: created as that user. */
function clusterPairingRequests(kc: KubeConfig): PairingRequests {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const path = { group: GROUP, version: VERSION, plural: CHANNEL_PAIRING.plural };
  return {
    create: async (body) => (await custom.createClusterCustomObject({ ...path, body })) as ChannelPairing,
    read: async (name) => (await custom.getClusterCustomObject({ ...path, name })) as ChannelPairing,
  };
}

function defaultKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
}
