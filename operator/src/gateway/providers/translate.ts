/** The request translation and stream translator for a cloud model's provider kind. */
import { AnthropicStreamTranslator, toAnthropicRequest } from './anthropic.ts';
import type { CloudModel } from './catalog.ts';
import { OpenAIStreamTranslator, toOpenAIRequest } from './openai.ts';
import { type OllamaChatRequest, type StreamTranslator, TranslationError } from './types.ts';

export function translatorFor(
  cloud: CloudModel,
  request: OllamaChatRequest,
  maxTokens: number,
): { body: Record<string, unknown>; translator: StreamTranslator } {
  if (!Array.isArray(request.messages) || request.messages.length === 0) {
    throw new TranslationError(`a chat with cloud model ${cloud.name} needs at least one message`);
  }
  for (const [i, m] of request.messages.entries()) {
    if (m.tool_calls !== undefined && !Array.isArray(m.tool_calls)) {
      throw new TranslationError(`messages[${i}].tool_calls must be an array`);
    }
    for (const call of m.tool_calls ?? []) {
      if (typeof call?.function?.name !== 'string') {
        throw new TranslationError(`messages[${i}].tool_calls needs function.name on every call`);
      }
    }
  }
  if (
    request.tools !== undefined &&
    (!Array.isArray(request.tools) || request.tools.some((t) => typeof t?.function?.name !== 'string'))
  ) {
    throw new TranslationError('"tools" must be an array of {type: "function", function: {name, …}}');
  }
  const opts = { upstreamModel: cloud.upstreamModel, maxTokens };
  return cloud.provider.kind === 'anthropic'
    ? { body: toAnthropicRequest(request, opts), translator: new AnthropicStreamTranslator(request.model) }
    : { body: toOpenAIRequest(request, opts), translator: new OpenAIStreamTranslator(request.model) };
}
