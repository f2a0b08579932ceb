// Public API of the model gateway (see gateway.ts for what it does and in which order it checks).
export type { TaskState } from './authorize.ts';
export type { Budget, Usage } from './budgets.ts';
export type { RefusalCode } from './errors.ts';
export {
  createGateway,
  DEFAULT_LIMITS,
  type Gateway,
  type GatewayDeps,
  type GatewayLimits,
  type GatewayLogger,
} from './gateway.ts';
export type { Finding, ScreenFn, ScreenVerdict } from './screening.ts';
export {
  createTokenVerifier,
  exportGatewayKey,
  type GatewayKey,
  generateGatewayKey,
  importGatewayKey,
  issueTaskToken,
  loadOrCreateGatewayKey,
  type TaskIdentity,
  TOKEN_GRACE_SECONDS,
  TokenError,
  type TokenSpec,
  type TokenVerifier,
} from './tokens.ts';
