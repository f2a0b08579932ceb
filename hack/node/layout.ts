/**
 * Where the node lives: one state directory for everything the node writes,
 * its network (a bridge and address ranges the project owns), and the list of
 * places outside the state directory its components write on their own.
 */
import { join, resolve } from 'node:path';

export const NODE_NAME = 'closedpaw-node';

export const NETWORK = {
  bridge: 'cpaw0',
  /** The bridge's address: node IP, API server, kubelet and kube-proxy bind here. */
  nodeIp: '10.244.0.1',
  podCidr: '10.244.0.0/24',
  serviceCidr: '10.96.0.0/16',
  /** ClusterIP of the `kubernetes` Service (first address of serviceCidr). */
  kubernetesServiceIp: '10.96.0.1',
  apiServerPort: 6443,
  kubeletPort: 10250,
} as const;

/** Cgroup parent (in every v1 hierarchy) of all the node's pods; removed by node:down. */
export const CGROUP_ROOT = '/closedpaw-node';

/**
 * Paths outside the state directory that the node's components create
 * (hard-coded upstream). node:up records which of them already existed;
 * node:down removes the others.
 */
export const OUTSIDE_PATHS = [
  '/var/lib/kubelet', // kubelet: device-plugins/ is hard-coded
  '/var/log/containers', // kubelet: container log symlinks
  '/var/log/pods', // kubelet: default podLogsDir (moved, listed in case)
  '/var/lib/cni', // libcni result cache (containerd's CNI)
  '/run/containerd', // containerd shims' sockets (/run/containerd/s)
  '/var/run/netns', // netns (moved under the state dir, listed in case)
  '/run/netns',
  '/var/lib/kube-router',
  '/var/run/kube-router',
  '/run/xtables.lock', // iptables' lock file
] as const;

/** Kernel settings the kubelet, the bridge plugin and kube-proxy change; node:down restores them. */
export const SYSCTLS = [
  'net.ipv4.ip_forward',
  'vm.overcommit_memory',
  'vm.panic_on_oom',
  'kernel.panic',
  'kernel.panic_on_oops',
  'kernel.keys.root_maxkeys',
  'kernel.keys.root_maxbytes',
  'net.ipv4.conf.all.route_localnet',
  'net.bridge.bridge-nf-call-iptables',
  'net.bridge.bridge-nf-call-ip6tables',
  'net.netfilter.nf_conntrack_max',
  'net.netfilter.nf_conntrack_tcp_timeout_established',
  'net.netfilter.nf_conntrack_tcp_timeout_close_wait',
] as const;

export const DEFAULT_NODE_DIR = resolve(import.meta.dirname, '../../.closedpaw/node');

export function nodeDir(): string {
  return resolve(process.env.CLOSEDPAW_NODE_DIR ?? DEFAULT_NODE_DIR);
}

export interface Layout {
  dir: string;
  state: string;
  logs: string;
  pki: string;
  etcd: string;
  kubeconfig: string;
  containerdRoot: string;
  containerdState: string;
  containerdConfig: string;
  /** containerd's registry hosts directory (`_default/hosts.toml`: every pull goes to a closed loopback port). */
  containerdRegistryHosts: string;
  containerdSocket: string;
  runscConfig: string;
  runscRoot: string;
  runscLogs: string;
  cniConfDir: string;
  cniIpamDir: string;
  kubeletRoot: string;
  kubeletConfig: string;
  kubeletKubeconfig: string;
  podLogs: string;
  kubeProxyConfig: string;
  kubeProxyKubeconfig: string;
  kubeRouterKubeconfig: string;
  images: string;
  /** What existed before node:up: outside paths and sysctl values (read by node:down). */
  baseline: string;
}

export function layout(dir: string): Layout {
  return {
    dir,
    state: join(dir, 'state.json'),
    logs: join(dir, 'logs'),
    pki: join(dir, 'pki'),
    etcd: join(dir, 'etcd'),
    kubeconfig: join(dir, 'kubeconfig'),
    containerdRoot: join(dir, 'containerd/root'),
    containerdState: join(dir, 'containerd/state'),
    containerdConfig: join(dir, 'containerd/config.toml'),
    containerdRegistryHosts: join(dir, 'containerd/certs.d'),
    containerdSocket: join(dir, 'containerd/containerd.sock'),
    runscConfig: join(dir, 'runsc/runsc.toml'),
    runscRoot: join(dir, 'runsc/root'),
    runscLogs: join(dir, 'runsc/logs'),
    cniConfDir: join(dir, 'cni/net.d'),
    cniIpamDir: join(dir, 'cni/ipam'),
    kubeletRoot: join(dir, 'kubelet'),
    kubeletConfig: join(dir, 'kubelet-config.yaml'),
    kubeletKubeconfig: join(dir, 'kubelet.kubeconfig'),
    podLogs: join(dir, 'pod-logs'),
    kubeProxyConfig: join(dir, 'kube-proxy-config.yaml'),
    kubeProxyKubeconfig: join(dir, 'kube-proxy.kubeconfig'),
    kubeRouterKubeconfig: join(dir, 'kube-router.kubeconfig'),
    images: join(dir, 'images.json'),
    baseline: join(dir, 'baseline.json'),
  };
}
