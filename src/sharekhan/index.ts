export { ShareKhanAuthModule } from './sharekhan.module.js';
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
} from './token-store.service.js';
export type { AuditActor, AuditEvent } from './token-audit.service.js';
export { auditEventFor, type AuditViewer } from './audit-visibility.js';
export { ShareKhanClientFactory, ShareKhanNotConfiguredError } from './sharekhan-client.factory.js';
export { TokenClock } from './token-clock.js';
export { istTime, nextCutoff, tokenExpiry } from './token-expiry.js';
export { LOGIN_BROWSER_RETURN, type LoginBrowserReturn, type LoginOutcome } from './login-browser-return.js';
export { TradingAccounts, NotATradingUserError, CustomerMismatchError, CustomerNotConfiguredError, type TradingAccount } from './trading-accounts.js';
export { StaticTokens, staticTokenRejectedKey, type StaticTokenView } from './static-tokens.js';
export * from './sharekhan-client.js';
export * from './sharekhan-order.schema.js';
export { tokenFingerprint, maskToken } from './token-crypto.js';
export {
  shareKhanOptionsSchema,
  resolveShareKhanOptions,
  SHAREKHAN_PUBLIC_SETTINGS,
  type ShareKhanPublicSettings,
  type ShareKhanModuleOptions,
  type ShareKhanSettings,
  type TokenKeySpec,
} from './sharekhan.options.js';
