export { AuthModule } from './auth.module.js';
export { ApiKeyGuard, getApiCaller, ACCESS_RULE, type AccessRule } from './api-key.guard.js';
export { ApiKeyService, API_KEY_HEADER, type ApiCaller } from './api-key.service.js';
export { ApiKeyAuth, RateLimited, Caller, CallerIdentity, callerIdentity } from './auth.decorators.js';
export {
  authOptionsSchema,
  resolveAuthOptions,
  scopeProblem,
  AUTH_SETTINGS,
  MIN_API_KEY_SECRET_LENGTH,
  type AuthModuleOptions,
  type AuthSettings,
  type ApiKeyEntry,
  type ApiKeyScope,
} from './auth.options.js';
export { CacheThrottlerStorage } from './cache-throttler.storage.js';
