// Public API of the gateway's cloud providers (OpenAI-compatible chat completions, Anthropic messages).
export { AnthropicStreamTranslator, toAnthropicRequest } from './anthropic.ts';
export {
  CloudConfigError,
  type CloudEnv,
  type CloudModel,
  type CloudProvider,
  type CloudSettings,
  cloudModelRisk,
  DEFAULT_PROVIDERS,
  findCloudModel,
  type Price,
  parseCloudSettings,
} from './catalog.ts';
export { costMicroUsd, planCloudCall, usd } from './cost.ts';
export { cachedVaultKeys, type KeySource, scrubSecrets } from './keys.ts';
export { OpenAIStreamTranslator, toOpenAIRequest } from './openai.ts';
export { translatorFor } from './translate.ts';
