import { z } from 'zod';
import { cel } from './common.ts';

/**
 * A ChannelPairing: a Kubernetes user confirming, in their own name, that the chat account which showed a
 * one-time code may decide approvals as them (`closedpaw channel pair CODE`). Cluster-scoped; the API
 * server refuses one whose `spec.user` is not the requester (crds/channel-pairing-policy.yaml).
 */
export const channelPairingSpecSchema = z
  .object({
    user: z
      .string()
      .min(1)
      .max(253)
      .describe('The confirming user: must be the requester (admission policy).'),
    codeDigest: z
      .string()
      .regex(/^sha256:[a-f0-9]{64}$/)
      .describe('sha256 of the one-time code the chat account was shown.'),
  })
  .describe('Who confirms which code. Immutable.')
  .meta(cel({ rule: 'self == oldSelf', message: 'spec is immutable', reason: 'FieldValueForbidden' }));
export type ChannelPairingSpec = z.infer<typeof channelPairingSpecSchema>;

export const channelPairingStatusSchema = z
  .object({
    phase: z.enum(['Paired', 'Rejected']).optional(),
    platform: z.string().max(32).optional(),
    account: z.string().max(300).optional(),
    message: z.string().max(1024).optional(),
    pairedAt: z.iso.datetime().optional(),
  })
  .describe('What the operator made of the confirmation.');
export type ChannelPairingStatus = z.infer<typeof channelPairingStatusSchema>;
