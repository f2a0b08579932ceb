/**
 * The node components' configuration files, as pure functions of the layout
 * (test/node/config.test.ts checks the settings the node depends on).
 */
import { stringify } from 'yaml';
import { CGROUP_ROOT, type Layout, NETWORK, NODE_NAME } from './layout.ts';

const toml = (value: string) => JSON.stringify(value);

/** containerd 2.4 (config version 4): own root/state/socket, CRI with runsc as the only runtime. */
export function containerdConfig(l: Layout, pauseImage: string, shimDir: string): string {
  const cri = 'plugins."io.containerd.cri.v1.runtime"';
  return `version = 4
root = ${toml(l.containerdRoot)}
state = ${toml(l.containerdState)}
# Plugins that would write outside the state directory or are not needed.
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.blockfile", "io.containerd.snapshotter.v1.erofs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing", "io.containerd.nri.v1.nri", "io.containerd.image-verifier.v1.bindir"]

[plugins."io.containerd.server.v1.grpc"]
  address = ${toml(l.containerdSocket)}

[plugins."io.containerd.server.v1.ttrpc"]
  address = ${toml(`${l.containerdSocket}.ttrpc`)}

[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  [plugins."io.containerd.cri.v1.images".registry]
    config_path = ${toml(l.containerdRegistryHosts)}
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = ${toml(pauseImage)}

[${cri}]
  netns_mounts_under_state_dir = true
  enable_selinux = false
  cdi_spec_dirs = []
  [${cri}.containerd]
    default_runtime_name = "runsc"
    [${cri}.containerd.runtimes.runsc]
      runtime_type = "io.containerd.runsc.v1"
      runtime_path = ${toml(`${shimDir}/containerd-shim-runsc-v1`)}
      [${cri}.containerd.runtimes.runsc.options]
        TypeUrl = "io.containerd.runsc.v1.options"
        ConfigPath = ${toml(l.runscConfig)}
    # containerd always defines runc; point it at nothing so a RuntimeClass naming it fails closed.
    [${cri}.containerd.runtimes.runc]
      runtime_path = "/nonexistent/runc-is-disabled-on-the-closedpaw-node"
  [${cri}.cni]
    bin_dirs = ["/usr/lib/cni"]
    conf_dir = ${toml(l.cniConfDir)}
    max_conf_num = 1

[plugins."io.containerd.grpc.v1.cri"]
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
`;
}

/** Where images would be pulled from: nowhere. Every registry resolves to a closed port on loopback. */
export const NO_REGISTRY = 'http://127.0.0.1:1';

/**
 * `_default/hosts.toml` under the registry hosts directory: the node never pulls. An image that was not imported
 * fails at once, without a name lookup or a connection off this machine (pods use only imported images).
 */
export function registryHostsToml(): string {
  return `server = ${toml(NO_REGISTRY)}
[host.${toml(NO_REGISTRY)}]
  capabilities = ["pull", "resolve"]
`;
}

/** The runsc shim's options: gVisor on the systrap platform, state under the node dir. */
export function runscToml(l: Layout, runsc: string, debug: boolean): string {
  return `binary_name = ${toml(runsc)}
root = ${toml(l.runscRoot)}
${debug ? `log_path = ${toml(`${l.runscLogs}/shim.log`)}\nlog_level = "debug"\n` : ''}
[runsc_config]
  platform = "systrap"
${debug ? `  debug = "true"\n  debug-log = ${toml(`${l.runscLogs}/%ID%/`)}\n` : ''}`;
}

/** One bridge with the node IP as gateway; addresses from host-local IPAM kept in the state dir. */
export function cniConfig(l: Layout): string {
  return `${JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: 'closedpaw',
      plugins: [
        {
          type: 'bridge',
          bridge: NETWORK.bridge,
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            dataDir: l.cniIpamDir,
            ranges: [[{ subnet: NETWORK.podCidr, gateway: NETWORK.nodeIp }]],
            routes: [{ dst: '0.0.0.0/0' }],
          },
        },
      ],
    },
    null,
    2,
  )}\n`;
}

export function kubeletConfig(l: Layout, caCert: string, servingCert: string, servingKey: string): string {
  return stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    // cgroup v1 host without systemd as init.
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    cgroupRoot: CGROUP_ROOT,
    containerRuntimeEndpoint: `unix://${l.containerdSocket}`,
    address: NETWORK.nodeIp,
    port: NETWORK.kubeletPort,
    readOnlyPort: 0,
    healthzBindAddress: NETWORK.nodeIp,
    healthzPort: 10248,
    tlsCertFile: servingCert,
    tlsPrivateKeyFile: servingKey,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: caCert },
    },
    authorization: { mode: 'Webhook' },
    // No DNS: pods never query the machine's resolver.
    clusterDNS: [],
    resolvConf: '',
    failSwapOn: false,
    makeIPTablesUtilChains: false,
    podCIDR: NETWORK.podCidr,
    maxPods: 64,
    podLogsDir: l.podLogs,
    // Images are imported, never pulled: never collect them.
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    evictionHard: {},
    // Local-storage limits (emptyDir sizeLimit, ephemeral-storage) are enforced by eviction.
    localStorageCapacityIsolation: true,
    // Measure emptyDir usage often, so an overfilled /workspace is evicted within seconds.
    volumeStatsAggPeriod: '5s',
    evictionPressureTransitionPeriod: '5s',
    housekeepingInterval: '2s',
    serializeImagePulls: false,
    registerNode: true,
    nodeStatusReportFrequency: '1m',
    nodeStatusUpdateFrequency: '10s',
    syncFrequency: '10s',
    fileCheckFrequency: '20s',
    rotateCertificates: false,
    serverTLSBootstrap: false,
    protectKernelDefaults: false,
    enableDebuggingHandlers: true,
    containerLogMaxSize: '10Mi',
    containerLogMaxFiles: 2,
  });
}

export function kubeletArgs(l: Layout): string[] {
  return [
    `--config=${l.kubeletConfig}`,
    `--kubeconfig=${l.kubeletKubeconfig}`,
    `--hostname-override=${NODE_NAME}`,
    `--node-ip=${NETWORK.nodeIp}`,
    `--root-dir=${l.kubeletRoot}`,
    `--cert-dir=${l.pki}`,
    '--v=1',
  ];
}

export function kubeProxyConfig(l: Layout): string {
  return stringify({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode: 'iptables',
    clientConnection: { kubeconfig: l.kubeProxyKubeconfig },
    hostnameOverride: NODE_NAME,
    bindAddress: NETWORK.nodeIp,
    healthzBindAddress: `${NETWORK.nodeIp}:10256`,
    metricsBindAddress: `${NETWORK.nodeIp}:10249`,
    clusterCIDR: NETWORK.podCidr,
    nodePortAddresses: [`${NETWORK.nodeIp}/32`],
    // Zeros: leave the machine's conntrack sysctls alone.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    iptables: { localhostNodePorts: false, masqueradeAll: false, syncPeriod: '30s', minSyncPeriod: '0s' },
  });
}

export function kubeRouterArgs(l: Layout): string[] {
  return [
    '--run-firewall=true',
    '--run-router=false',
    '--run-service-proxy=false',
    '--run-loadbalancer=false',
    '--enable-cni=false',
    '--enable-ipv6=false',
    `--kubeconfig=${l.kubeRouterKubeconfig}`,
    `--hostname-override=${NODE_NAME}`,
    '--health-port=0',
    '--metrics-port=0',
    '--iptables-sync-period=1m',
    '--v=1',
  ];
}

/** The RuntimeClasses the node offers: gvisor → runsc; kata-qemu has no handler here (fail closed). */
export const RUNTIME_CLASSES = `apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata:
  name: gvisor
handler: runsc
---
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata:
  name: kata-qemu
handler: kata-qemu
`;

/** kube-router's firewall needs to read pods, namespaces, policies and nodes; nothing more. */
export const KUBE_ROUTER_RBAC = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: closedpaw:kube-router
rules:
  - apiGroups: [""]
    resources: [namespaces, pods, services, nodes, endpoints]
    verbs: [list, get, watch]
  - apiGroups: [networking.k8s.io]
    resources: [networkpolicies]
    verbs: [list, get, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [list, get, watch]
  - apiGroups: [""]
    resources: [events]
    verbs: [create, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: closedpaw:kube-router
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: closedpaw:kube-router
subjects:
  - apiGroup: rbac.authorization.k8s.io
    kind: User
    name: closedpaw:kube-router
`;
