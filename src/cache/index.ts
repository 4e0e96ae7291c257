export { CacheModule } from './cache.module.js';
export { CacheService } from './cache.service.js';
export { CacheHealthIndicator, type CacheHealthResult } from './cache.health.js';
export { CacheKeyvStore, type CacheKeyvStoreOptions } from './keyv/keyv-store.js';
export {
  CacheError,
  CacheValidationError,
  CacheStartupError,
  CacheUnavailableError,
  CacheConflictError,
  CacheClockNotSyncedError,
  CacheFactoryError,
  type CacheErrorCode,
} from './cache.errors.js';
export type { CacheApi } from './api/cache-namespace.js';
export type { GetOrSetOptions } from './api/get-or-set.js';
export type { UpdateOptions, UpdateResult } from './api/update.js';
export type { ClearResult } from './api/clear.js';
export type * from './cache.types.js';
export type { CacheModuleOptions, RedisTarget, RedisTlsFiles, HostPort } from './cache.options.js';
export type { CounterHit } from './counter/atomic-counter.js';
export type { SlotAnswer } from './counter/sliding-window.js';
