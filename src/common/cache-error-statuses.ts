import type { CacheErrorCode } from '../cache/index.js';
import type { ErrorStatuses } from './domain-error.js';

/**
 * The cache's codes as the app's HTTP edge answers them, under every module's own table: a
 * service that lets one through answers what it means (retry later, fix the input), never a 500.
 */
export const CACHE_ERROR_STATUSES: Readonly<Partial<Record<CacheErrorCode, number>>> & ErrorStatuses = {
  CACHE_INVALID_INPUT: 400,
  CACHE_CONFLICT: 409,
  CACHE_UNAVAILABLE: 503,
  CACHE_OUTCOME_UNKNOWN: 503,
  CACHE_REDIS_REQUIRED: 503,
  // A replica that cannot version a write by the fleet's clock yet: a retry shortly succeeds.
  CACHE_CLOCK_NOT_SYNCED: 503,
  // getOrSet's factory (the caller's upstream) failed or took too long, and no value was there to serve.
  CACHE_FACTORY_FAILED: 502,
  CACHE_FACTORY_TIMEOUT: 504,
};
