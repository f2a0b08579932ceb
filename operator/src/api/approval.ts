import { z } from 'zod';
import { cel, immutable, riskSchema } from './common.ts';

export const VERDICTS = ['Approved', 'Denied'] as const;
export const APPROVAL_STATES = ['Pending', 'Approved', 'Denied', 'Expired', 'Superseded'] as const;
export type ApprovalState = (typeof APPROVAL_STATES)[number];

const userName = z.string().min(1).max(253);

export const decisionSchema = z
  .object({
    verdict: z.enum(VERDICTS).describe('Approved or Denied.'),
    decidedBy: userName.describe('Must equal the authenticated user writing the decision.'),
    reason: z.string().max(1024).optional().describe('Why, in the decider’s words.'),
  })
  .describe('The human decision: the one field a human writes. Cannot change once set.')
  .meta(immutable('spec.decision'));
export type Decision = z.infer<typeof decisionSchema>;

export const approvalSpecSchema = z
  .object({
    taskRef: z
      .object({
        name: z.string().min(1).max(253),
        uid: z.string().min(1).max(64),
      })
      .describe('The AgentTask this approval is for.')
      .meta(immutable('spec.taskRef')),
    taskDigest: z
      .string()
      .regex(/^sha256:[a-f0-9]{64}$/)
      .describe('sha256 of the canonical task spec being approved; a changed task voids the approval.')
      .meta(immutable('spec.taskDigest')),
    risk: riskSchema.meta(immutable('spec.risk')),
    expiresAt: z.iso
      .datetime()
      .describe('After this time the approval counts as denied.')
      .meta(immutable('spec.expiresAt')),
    approvers: z
      .object({
        users: z.array(userName).max(32).optional().meta({ 'x-kubernetes-list-type': 'set' }),
        groups: z.array(userName).max(32).optional().meta({ 'x-kubernetes-list-type': 'set' }),
      })
      .optional()
      .describe('Who may decide; unset means anyone with RBAC to patch approvals.')
      .meta(immutable('spec.approvers')),
    decision: decisionSchema.optional(),
  })
  .describe('A request for a human decision on one exact task spec.')
  .meta(
    cel(
      {
        rule: '!has(oldSelf.decision) || has(self.decision)',
        message: 'spec.decision cannot be removed once set',
        fieldPath: '.decision',
        reason: 'FieldValueForbidden',
      },
      {
        rule: 'has(self.approvers) == has(oldSelf.approvers)',
        message: 'spec.approvers is immutable',
        fieldPath: '.approvers',
        reason: 'FieldValueForbidden',
      },
    ),
  );
export type ApprovalSpec = z.infer<typeof approvalSpecSchema>;

export const approvalStatusSchema = z
  .object({
    state: z.enum(APPROVAL_STATES).optional(),
    decidedBy: z.string().max(253).optional(),
    decidedAt: z.iso.datetime().optional(),
    reason: z.string().max(1024).optional(),
  })
  .describe('Observed state of the approval, written by the operator.');
export type ApprovalStatus = z.infer<typeof approvalStatusSchema>;
