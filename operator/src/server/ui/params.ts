/** Route parameters and request validation shared by the UI server's routes. */
import { z } from 'zod';

const DNS_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** `{namespace, name}` of a namespaced object; `noun` names it in the error ("invalid task name"). */
export const objectParams = (noun: string) =>
  z.object({
    namespace: z.string().regex(DNS_NAME, 'invalid namespace'),
    name: z.string().regex(DNS_NAME, `invalid ${noun} name`),
  });

export function validationMessage(error: z.ZodError): string {
  return error.issues
    .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
}
