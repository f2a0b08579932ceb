/**
 * Confirming a pairing code as a Kubernetes user, the one way `closedpaw channel pair CODE` and the web UI
 * both do it: create a ChannelPairing *as that user* (the admission policy refuses it unless `spec.user` is
 * the requester) carrying only the code's sha256, then wait for the operator's verdict in its status.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { API_VERSION } from '../api/meta.ts';
import { impersonationHeaders } from '../k8s/client.ts';
import { type KubeConnection, RestClient } from '../k8s/rest.ts';
import { codeDigest } from './pairing.ts';
import { CHANNEL_PAIRING, type ChannelPairing, PAIRINGS_PATH } from './pairing-resource.ts';

/** Creates the object as the confirming user; reads it back (as anyone who may). */
export interface PairingRequests {
  create(body: NewChannelPairing): Promise<ChannelPairing>;
  read(name: string): Promise<ChannelPairing>;
}

export interface NewChannelPairing {
  apiVersion: string;
  kind: string;
  metadata: { generateName: string };
  spec: { user: string; codeDigest: string };
}

export type PairingVerdict =
  | { phase: 'Paired'; account: string }
  | { phase: 'Rejected'; message: string }
  | { phase: 'Unanswered'; message: string };

export const PAIRING_WAIT_MS = 30_000;

/**
 * ChannelPairings through the operator's connection, created *as* `who` (the UI's approver): the operator
 * may impersonate only that user, and the admission policy then checks `spec.user` against them.
 */
export function impersonatedPairingRequests(
  rest: Pick<RestClient, 'request'>,
  who: { user: string; groups?: readonly string[] },
): PairingRequests {
  return {
    create: async (body) =>
      await rest.request<ChannelPairing>(PAIRINGS_PATH, {
        method: 'POST',
        body,
        headers: impersonationHeaders(who),
      }),
    read: async (name) => await rest.request<ChannelPairing>(`${PAIRINGS_PATH}/${encodeURIComponent(name)}`),
  };
}

export function newChannelPairing(user: string, code: string): NewChannelPairing {
  return {
    apiVersion: API_VERSION,
    kind: CHANNEL_PAIRING.kind,
    metadata: { generateName: 'pair-' },
    spec: { user, codeDigest: codeDigest(code) },
  };
}

/** Creates the confirmation and polls its status until the operator answers or `timeoutMs` passes. */
export async function confirmPairing(
  requests: PairingRequests,
  user: string,
  code: string,
  opts: { timeoutMs?: number; pollMs?: number } = {},
): Promise<PairingVerdict> {
  const timeoutMs = opts.timeoutMs ?? PAIRING_WAIT_MS;
  const created = await requests.create(newChannelPairing(user, code));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const status = (await requests.read(created.metadata.name)).status;
    if (status?.phase === 'Paired') return { phase: 'Paired', account: status.account ?? 'the chat account' };
    if (status?.phase === 'Rejected') return { phase: 'Rejected', message: status.message ?? 'rejected' };
    await sleep(opts.pollMs ?? 250);
  }
  return {
    phase: 'Unanswered',
    message: `the operator did not answer within ${Math.ceil(timeoutMs / 1000)} s (is it running, with channels on?)`,
  };
}

/** Confirms codes as `approver` (the web UI's human) over the operator's connection. */
export function pairingAs(
  connection: KubeConnection,
  approver: { user: string; groups?: readonly string[] },
): (code: string) => Promise<PairingVerdict> {
  const requests = impersonatedPairingRequests(new RestClient(connection), approver);
  return (code) => confirmPairing(requests, approver.user, code);
}
