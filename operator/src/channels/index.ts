// Public API of the approval channels (Telegram, Discord, Slack). See service.ts for how they run.
export { runChannelCli } from './cli.ts';
export { ChannelCore } from './core.ts';
export { vaultPairings } from './pairing.ts';
export {
  CHANNEL_PAIRING,
  PAIRING_POLICY_NAME,
} from './pairing-resource.ts';
export { type ChannelsWiring, type RunningChannels, startChannels } from './service.ts';
export { ChannelConfigError, type ChannelSettings, parseChannelSettings, VAULT_ENTRIES } from './settings.ts';
