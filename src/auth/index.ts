export { AuthModule } from './auth.module.js';
export { ApiKeyGuard, getApiCaller, ACCESS_RULE, type AccessRule } from './api-key.guard.js';
export { ApiKeyService, API_KEY_HEADER, type ApiCaller } from './api-key.service.js';
export { ApiKeyAuth, RateLimited, Caller, CallerIdentity, callerIdentity } from './auth.decorators.js';
