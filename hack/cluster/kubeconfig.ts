/** Writes an admin kubeconfig with the certificates embedded, so it works from any directory. */
import { readFile, writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import type { Pki } from './certs.ts';

export const CONTEXT = 'closedpaw-local';

const base64File = async (path: string) => (await readFile(path)).toString('base64');

export async function writeKubeconfig(path: string, server: string, pki: Pki): Promise<void> {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: CONTEXT, cluster: { server, 'certificate-authority-data': await base64File(pki.caCert) } },
    ],
    users: [
      {
        name: 'closedpaw-admin',
        user: {
          'client-certificate-data': await base64File(pki.adminCert),
          'client-key-data': await base64File(pki.adminKey),
        },
      },
    ],
    contexts: [{ name: CONTEXT, context: { cluster: CONTEXT, user: 'closedpaw-admin' } }],
    'current-context': CONTEXT,
  };
  await writeFile(path, stringify(config), { mode: 0o600 });
}
