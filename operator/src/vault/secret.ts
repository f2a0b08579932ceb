// A secret string that refuses to be printed: JSON, String() and util.inspect all yield "[REDACTED]".
import { inspect } from 'node:util';

export const REDACTED = '[REDACTED]';

export class SecretValue {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  /** The plaintext. Call only where it is handed to the provider client; never log the result. */
  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return `SecretValue(${REDACTED})`;
  }
}
