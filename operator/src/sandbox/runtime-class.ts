/**
 * Which RuntimeClasses count as a sandbox: the class must exist and its
 * handler must be a sandbox runtime. A `gvisor` class whose handler is `runc`
 * is refused — the name of a class proves nothing.
 */
export const SANDBOX_HANDLERS: readonly string[] = ['runsc', 'kata*'];

export type RuntimeClassVerdict =
  | { ok: true; handler: string }
  | { ok: false; reason: 'RuntimeClassNotFound' | 'RuntimeClassNotSandboxed'; message: string };

/** `pattern` is an exact handler name or a prefix ending in `*`. */
export const handlerMatches = (handler: string, pattern: string) =>
  pattern.endsWith('*') ? handler.startsWith(pattern.slice(0, -1)) : handler === pattern;

export function runtimeClassVerdict(
  name: string,
  runtimeClass: { handler?: string } | undefined,
  sandboxHandlers: readonly string[] = SANDBOX_HANDLERS,
): RuntimeClassVerdict {
  if (!runtimeClass) {
    return {
      ok: false,
      reason: 'RuntimeClassNotFound',
      message: `RuntimeClass ${name} does not exist: no pod is created without a sandbox runtime`,
    };
  }
  const handler = runtimeClass.handler ?? '';
  if (!sandboxHandlers.some((pattern) => handlerMatches(handler, pattern))) {
    return {
      ok: false,
      reason: 'RuntimeClassNotSandboxed',
      message: `RuntimeClass ${name} has handler "${handler}", which is not a sandbox (allowed: ${sandboxHandlers.join(', ')}): no pod is created`,
    };
  }
  return { ok: true, handler };
}
