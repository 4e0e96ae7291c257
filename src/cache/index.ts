export { CacheModule } from './cache.module.js';
export { CacheService } from './cache.service.js';
export { CacheHealthIndicator } from './cache.health.js';
export { CacheValidationError, CacheStartupError } from './cache.errors.js';
export type * from './cache.types.js';
export type { CacheModuleOptions, RedisTarget, RedisTlsFiles, HostPort } from './cache.options.js';
export type { CounterHit } from './atomic-counter.js';
