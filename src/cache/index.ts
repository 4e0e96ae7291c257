export { CacheModule } from './cache.module.js';
export { CacheService } from './cache.service.js';
export { CacheHealthIndicator, type CacheHealthResult } from './cache.health.js';
export { CacheKeyvStore, type CacheKeyvStoreOptions } from './api/keyv-store.js';
export {
  CacheError,
  CacheValidationError,
  CacheStartupError,
  CacheUnavailableError,
  CacheConflictError,
  CacheClockNotSyncedError,
  CacheFactoryError,
  type CacheErrorCode,
} from './core/cache.errors.js';
export type { CacheApi } from './api/cache-namespace.js';
export type { GetOrSetOptions } from './api/get-or-set.js';
export type { UpdateOptions, UpdateResult } from './api/update.js';
export type { ClearResult } from './api/clear.js';
export type * from './core/cache.types.js';
export type { CacheModuleOptions, RedisTarget, RedisTlsFiles, HostPort } from './core/cache.options.js';
export { isUsableRedisUrl, REDIS_URL_WANTS } from './core/redis-url.js';
export type { CounterHit } from './engine/atomic-counter.js';
export type { SlotAnswer } from './engine/sliding-window.js';
