/**
 * The package's root entry: the three modules and the API-key module. Each is also its own entry
 * (`<package>/cache`, `/sharekhan`, `/orchestrator`, `/auth`) with everything it exports.
 */
export { CacheModule, CacheService, CacheHealthIndicator, CacheKeyvStore } from './cache/index.js';
export type { CacheModuleOptions, CacheKeyvStoreOptions } from './cache/index.js';
export { AuthModule, ApiKeyAuth, ApiKeyGuard, ApiKeyService } from './auth/index.js';
export type { AuthModuleOptions } from './auth/index.js';
export { ShareKhanAuthModule, ShareKhanTokenStore } from './sharekhan/index.js';
export type { ShareKhanModuleOptions } from './sharekhan/index.js';
export { OrchestratorModule } from './orchestrator/index.js';
export type { OrchestratorModuleOptions, TradingUser } from './orchestrator/index.js';
export { ModuleOptionsError } from './common/module-options.js';
export { DomainError } from './common/domain-error.js';
