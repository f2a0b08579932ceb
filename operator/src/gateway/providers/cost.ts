/**
 * Cost estimates and the per-call budget plan for cloud models. Pure. Costs are integer micro-USD
 * (a price in USD per million tokens is micro-USD per token), rounded up.
 */
import type { Budget, Usage } from '../budgets.ts';
import { type Refusal, refusal } from '../errors.ts';
import type { Price } from './catalog.ts';

export function costMicroUsd(price: Price, promptTokens: number, completionTokens: number): number {
  return Math.ceil(promptTokens * price.inputPerMTok + completionTokens * price.outputPerMTok);
}

/** A prompt's token count before the provider says: about 4 bytes a token, rounded up (an estimate, not a bill). */
export function estimatePromptTokens(requestBytes: number): number {
  return Math.ceil(requestBytes / 4);
}

export interface CallPlanFacts {
  budget: Budget;
  usage: Usage;
  /** What the task has spent on cloud calls so far. */
  spentMicroUsd: number;
  maxCostMicroUsd: number;
  requestBytes: number;
  price: Price;
  /** The operator's cap on completion tokens per call. */
  maxOutputTokens: number;
}

/**
 * How many completion tokens this call may ask for, so that neither the task's token budget nor its
 * cost cap can be overrun by it (given the prompt estimate); a refusal if nothing is left.
 */
export function planCloudCall(f: CallPlanFacts): { maxTokens: number } | Refusal {
  if (f.spentMicroUsd >= f.maxCostMicroUsd) {
    return refusal(
      'budget_exceeded',
      `cost budget exhausted: ${usd(f.spentMicroUsd)} of ${usd(f.maxCostMicroUsd)} estimated for this task's cloud calls`,
    );
  }
  const prompt = estimatePromptTokens(f.requestBytes);
  const tokensLeft = f.budget.tokens - f.usage.tokens - prompt;
  const costLeft = f.maxCostMicroUsd - f.spentMicroUsd - prompt * f.price.inputPerMTok;
  const byCost =
    f.price.outputPerMTok > 0 ? Math.floor(costLeft / f.price.outputPerMTok) : Number.POSITIVE_INFINITY;
  const maxTokens = Math.min(f.maxOutputTokens, tokensLeft, byCost);
  if (tokensLeft < 1) {
    return refusal(
      'budget_exceeded',
      `token budget too small for this call: ${f.usage.tokens} of ${f.budget.tokens} tokens used and the prompt is about ${prompt} tokens`,
    );
  }
  if (maxTokens < 1) {
    return refusal(
      'budget_exceeded',
      `cost budget too small for this call: ${usd(f.spentMicroUsd)} of ${usd(f.maxCostMicroUsd)} spent and the prompt alone is about ${usd(Math.ceil(prompt * f.price.inputPerMTok))}`,
    );
  }
  return { maxTokens };
}

export function usd(micro: number): string {
  return `$${(micro / 1e6).toFixed(6).replace(/0+$/, '').replace(/\.$/, '.0')}`;
}
