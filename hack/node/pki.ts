/**
 * The node cluster's certificates: the control plane's PKI (hack/cluster/certs.ts)
 * plus an API-server serving cert valid on the node IP and the `kubernetes`
 * Service IP, the kubelet's serving and client certs, the API server's
 * kubelet-client cert, and one client cert each for kube-proxy and kube-router.
 */
import { join } from 'node:path';
import { createPki, type Pki, pkiPaths, signedCert } from '../cluster/certs.ts';
import { NETWORK, NODE_NAME } from './layout.ts';

export interface NodePki extends Pki {
  nodeServingCert: string;
  nodeServingKey: string;
  apiServerNodeCert: string;
  apiServerNodeKey: string;
  kubeletClientCert: string;
  kubeletClientKey: string;
  kubeletApiClientCert: string;
  kubeletApiClientKey: string;
  kubeProxyCert: string;
  kubeProxyKey: string;
  kubeRouterCert: string;
  kubeRouterKey: string;
}

/** A leaf (not a CA) signed by the cluster CA. */
const issue = (pki: Pki, dir: string, name: string, subject: string, extensions: string) =>
  signedCert(
    pki,
    dir,
    name,
    subject,
    `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n${extensions}`,
  );

const client = 'extendedKeyUsage=clientAuth\n';

export async function createNodePki(dir: string): Promise<NodePki> {
  const pki = await createPki(dir);
  const apiServer = await issue(
    pki,
    dir,
    'apiserver-node',
    '/CN=kube-apiserver',
    'extendedKeyUsage=serverAuth\n' +
      `subjectAltName=IP:${NETWORK.nodeIp},IP:${NETWORK.kubernetesServiceIp},IP:127.0.0.1,DNS:localhost,` +
      'DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\n',
  );
  const nodeServing = await issue(
    pki,
    dir,
    'kubelet-serving',
    `/CN=${NODE_NAME}`,
    `extendedKeyUsage=serverAuth\nsubjectAltName=IP:${NETWORK.nodeIp},DNS:${NODE_NAME}\n`,
  );
  const kubeletClient = await issue(
    pki,
    dir,
    'kubelet-client',
    `/O=system:nodes/CN=system:node:${NODE_NAME}`,
    client,
  );
  const kubeletApiClient = await issue(
    pki,
    dir,
    'apiserver-kubelet-client',
    '/O=system:masters/CN=kube-apiserver-kubelet-client',
    client,
  );
  const kubeProxy = await issue(pki, dir, 'kube-proxy', '/CN=system:kube-proxy', client);
  const kubeRouter = await issue(pki, dir, 'kube-router', '/CN=closedpaw:kube-router', client);
  return {
    ...pki,
    nodeServingCert: nodeServing.cert,
    nodeServingKey: nodeServing.key,
    apiServerNodeCert: apiServer.cert,
    apiServerNodeKey: apiServer.key,
    kubeletClientCert: kubeletClient.cert,
    kubeletClientKey: kubeletClient.key,
    kubeletApiClientCert: kubeletApiClient.cert,
    kubeletApiClientKey: kubeletApiClient.key,
    kubeProxyCert: kubeProxy.cert,
    kubeProxyKey: kubeProxy.key,
    kubeRouterCert: kubeRouter.cert,
    kubeRouterKey: kubeRouter.key,
  };
}

/** The same paths createNodePki wrote in `dir` (for a running node). */
export function nodePkiPaths(dir: string): NodePki {
  const pair = (name: string) => [join(dir, `${name}.crt`), join(dir, `${name}.key`)] as const;
  const [nodeServingCert, nodeServingKey] = pair('kubelet-serving');
  const [apiServerNodeCert, apiServerNodeKey] = pair('apiserver-node');
  const [kubeletClientCert, kubeletClientKey] = pair('kubelet-client');
  const [kubeletApiClientCert, kubeletApiClientKey] = pair('apiserver-kubelet-client');
  const [kubeProxyCert, kubeProxyKey] = pair('kube-proxy');
  const [kubeRouterCert, kubeRouterKey] = pair('kube-router');
  return {
    ...pkiPaths(dir),
    nodeServingCert,
    nodeServingKey,
    apiServerNodeCert,
    apiServerNodeKey,
    kubeletClientCert,
    kubeletClientKey,
    kubeletApiClientCert,
    kubeletApiClientKey,
    kubeProxyCert,
    kubeProxyKey,
    kubeRouterCert,
    kubeRouterKey,
  };
}
