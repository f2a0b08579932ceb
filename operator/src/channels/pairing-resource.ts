/**
 * The ChannelPairing object: how a Kubernetes user proves who they are when confirming a pairing code.
 * `closedpaw channel pair CODE` creates one *as the user*; a ValidatingAdmissionPolicy makes the API
 * server refuse it unless `spec.user` is the requesting user's name, and the spec is immutable; only the
 * operator writes its status. The operator trusts `spec.user` only while that policy and its binding
 * exist (`pairingPolicyInstalled`): without them pairing stays off (fail closed).
 *
 * The CRD is generated from api/channel-pairing.ts into crds/; the policy is crds/channel-pairing-policy.yaml.
 */
import { z } from 'zod';
import { channelPairingSpecSchema, channelPairingStatusSchema } from '../api/channel-pairing.ts';
import { CHANNEL_PAIRING, GROUP, VERSION } from '../api/meta.ts';

export { CHANNEL_PAIRING };
/** The admission policy (crds/channel-pairing-policy.yaml) that makes spec.user trustworthy. */
export const PAIRING_POLICY_NAME = 'closedpaw-channel-pairings';
export const PAIRINGS_PATH = `/apis/${GROUP}/${VERSION}/${CHANNEL_PAIRING.plural}`;

export const channelPairingSchema = z.object({
  metadata: z.object({
    name: z.string(),
    uid: z.string().optional(),
    resourceVersion: z.string().optional(),
  }),
  spec: channelPairingSpecSchema,
  status: channelPairingStatusSchema.optional(),
});
export type ChannelPairing = z.infer<typeof channelPairingSchema>;

export type PairingOutcome = { phase: 'Paired'; user: string } | { phase: 'Rejected'; message: string };

/**
 * What a new ChannelPairing means, given whether its code redeemed to an account and who may pair
 * (the users the operator may impersonate). Pure.
 */
export function judgePairing(
  pairing: ChannelPairing,
  redeemed: boolean,
  pairableUsers: readonly string[],
): PairingOutcome {
  if (!redeemed) {
    return {
      phase: 'Rejected',
      message:
        'unknown, used or expired code: ask the bot for a new one (/pair) and confirm within 10 minutes',
    };
  }
  if (!pairableUsers.includes(pairing.spec.user)) {
    return {
      phase: 'Rejected',
      message: `user ${pairing.spec.user} may not decide through chat channels (not in CLOSEDPAW_CHANNEL_USERS, the users the operator may impersonate)`,
    };
  }
  return { phase: 'Paired', user: pairing.spec.user };
}
