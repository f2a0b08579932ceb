/**
 * The control plane's PKI, made with the openssl CLI the way envtest does:
 * a tiny CA, the API server's serving cert (SANs 127.0.0.1/localhost), an admin
 * client cert in group system:masters, and the service-account signing key pair.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Pki {
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  saKey: string;
  saPub: string;
}

export const pkiPaths = (dir: string): Pki => ({
  caCert: join(dir, 'ca.crt'),
  caKey: join(dir, 'ca.key'),
  servingCert: join(dir, 'apiserver.crt'),
  servingKey: join(dir, 'apiserver.key'),
  adminCert: join(dir, 'admin.crt'),
  adminKey: join(dir, 'admin.key'),
  saKey: join(dir, 'sa.key'),
  saPub: join(dir, 'sa.pub'),
});

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? String(error);
    throw new Error(`openssl ${args[0]} failed (is openssl installed? apt-get install openssl): ${stderr}`);
  }
}

/** A P-256 key and a cert signed by the cluster CA, as <dir>/<name>.{key,crt}. */
export async function signedCert(
  pki: Pki,
  dir: string,
  name: string,
  subject: string,
  extensions: string,
): Promise<{ cert: string; key: string }> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key], dir);
  await openssl(['req', '-new', '-key', key, '-subj', subject, '-out', csr], dir);
  await writeFile(ext, extensions);
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      pki.caCert,
      '-CAkey',
      pki.caKey,
      '-CAcreateserial',
      '-days',
      '365',
      '-sha256',
      '-extfile',
      ext,
      '-out',
      join(dir, `${name}.crt`),
    ],
    dir,
  );
  return { cert: join(dir, `${name}.crt`), key };
}

export async function createPki(dir: string): Promise<Pki> {
  const pki = pkiPaths(dir);
  await openssl(
    ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', pki.caKey],
    dir,
  );
  await openssl(
    [
      'req',
      '-x509',
      '-new',
      '-key',
      pki.caKey,
      '-subj',
      '/CN=closedpaw-local-ca',
      '-days',
      '365',
      '-sha256',
      '-out',
      pki.caCert,
    ],
    dir,
  );
  await signedCert(
    pki,
    dir,
    'apiserver',
    '/CN=kube-apiserver',
    'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' +
      'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost,DNS:kubernetes.default.svc\n',
  );
  await signedCert(
    pki,
    dir,
    'admin',
    '/O=system:masters/CN=closedpaw-admin',
    'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n',
  );
  await openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', pki.saKey], dir);
  await openssl(['pkey', '-in', pki.saKey, '-pubout', '-out', pki.saPub], dir);
  return pki;
}
