import { z } from 'zod';

/** A CEL rule the API server enforces (`x-kubernetes-validations`). */
export interface CelRule {
  rule: string;
  message: string;
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

export const cel = (...rules: CelRule[]) => ({ 'x-kubernetes-validations': rules });

/** `self == oldSelf` on a field: once set, it cannot change. */
export const immutable = (what: string) =>
  cel({ rule: 'self == oldSelf', message: `${what} is immutable`, reason: 'FieldValueForbidden' });

export const RISK_LEVELS = ['low', 'high', 'critical'] as const;

export const riskSchema = z
  .object({
    level: z
      .enum(RISK_LEVELS)
      .describe('How dangerous the task is: low, high or critical (critical needs approval).'),
    reasons: z
      .array(z.string().max(256))
      .max(16)
      .describe('Human-readable reasons for the level.')
      .meta({ 'x-kubernetes-list-type': 'atomic' }),
  })
  .describe('Risk rating of a task.');
export type Risk = z.infer<typeof riskSchema>;

/** metav1.Condition, field for field. */
export const conditionSchema = z.object({
  type: z
    .string()
    .min(1)
    .max(316)
    .regex(
      /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/,
    ),
  status: z.enum(['True', 'False', 'Unknown']),
  observedGeneration: z.int().min(0).optional(),
  lastTransitionTime: z.iso.datetime(),
  reason: z
    .string()
    .min(1)
    .max(1024)
    .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/),
  message: z.string().max(32768),
});
export type Condition = z.infer<typeof conditionSchema>;

export const conditionsSchema = z
  .array(conditionSchema)
  .max(16)
  .describe('Standard conditions (metav1.Condition).')
  .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] });

/** A Kubernetes resource quantity such as `500m`, `2`, `512Mi`. */
export const quantityString = z
  .string()
  .max(16)
  .regex(/^[0-9]+(\.[0-9]+)?(m|k|M|G|Ki|Mi|Gi|Ti)?$/);

/** A CEL rule bounding a quantity field: min ≤ self ≤ max. */
export const quantityBounds = (field: string, min: string, max: string): CelRule => ({
  rule: `isQuantity(self) && quantity(self).compareTo(quantity('${min}')) >= 0 && quantity(self).compareTo(quantity('${max}')) <= 0`,
  message: `${field} must be between ${min} and ${max}`,
});
