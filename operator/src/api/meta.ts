/** API group, version and the CRD naming facts shared by the schemas, the generator and clients. */
export const GROUP = 'closedpaw.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

export const AGENT_TASK = {
  kind: 'AgentTask',
  plural: 'agenttasks',
  singular: 'agenttask',
  shortNames: ['at'],
  categories: ['closedpaw'],
} as const;

export const APPROVAL = {
  kind: 'Approval',
  plural: 'approvals',
  singular: 'approval',
  shortNames: ['apv'],
  categories: ['closedpaw'],
} as const;

export const CHANNEL_PAIRING = {
  kind: 'ChannelPairing',
  plural: 'channelpairings',
  singular: 'channelpairing',
  shortNames: ['cpair'],
  categories: ['closedpaw'],
} as const;
