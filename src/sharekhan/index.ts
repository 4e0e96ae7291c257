export { ShareKhanAuthModule } from './sharekhan.module.js';
export { SHAREKHAN_ERROR_STATUSES } from './http/error-statuses.js';
export {
  ShareKhanTokenStore,
  InvalidUserIdError,
  assertUserId,
  tokenKey,
  type TokenRecordStatus,
  type TokenView,
  type TokenLookup,
  type TokenStatus,
  type TokenSource,
  type SubmitInput,
} from './tokens/token-store.service.js';
export type { AuditActor, AuditEvent } from './tokens/token-audit.service.js';
export { auditEventFor, type AuditViewer } from './tokens/audit-visibility.js';
export { ShareKhanClientFactory } from './broker/sharekhan-client.factory.js';
export { TokenClock } from './tokens/token-clock.js';
export { istTime, nextCutoff, tokenExpiry } from './tokens/token-expiry.js';
export { LOGIN_BROWSER_RETURN, type LoginBrowserReturn, type LoginOutcome } from './login/login-browser-return.js';
export { TradingAccounts, NotATradingUserError, CustomerMismatchError, CustomerNotConfiguredError, type TradingAccount } from './tokens/trading-accounts.js';
export { StaticTokens, staticTokenRejectedKey, type StaticTokenView } from './tokens/static-tokens.js';
export * from './broker/sharekhan-client.js';
export * from './broker/broker-errors.js';
export * from './broker/sharekhan-order.schema.js';
export { tokenFingerprint, maskToken } from './tokens/token-crypto.js';
export {
  shareKhanOptionsSchema,
  resolveShareKhanOptions,
  SHAREKHAN_PUBLIC_SETTINGS,
  type ShareKhanPublicSettings,
  type ShareKhanModuleOptions,
  type ShareKhanSettings,
  type TokenKeySpec,
} from './sharekhan.options.js';
