import { DomainError } from '../../common/domain-error.js';

/** What a caller can switch on; the message says what to do about it. */
export type CacheErrorCode =
  | 'CACHE_INVALID_INPUT'
  | 'CACHE_REDIS_REQUIRED'
  | 'CACHE_UNAVAILABLE'
  | 'CACHE_OUTCOME_UNKNOWN'
  | 'CACHE_CONFLICT'
  | 'CACHE_CLOCK_NOT_SYNCED'
  | 'CACHE_FACTORY_FAILED'
  | 'CACHE_FACTORY_TIMEOUT';

/** Every error the cache throws on purpose; `code` is stable, the message is for a person. */
export class CacheError extends DomainError {
  declare readonly code: CacheErrorCode;

  constructor(code: CacheErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'CacheError';
  }
}

/** The caller sent something the cache cannot store: a bad key, value or expiry. */
export class CacheValidationError extends CacheError {
  constructor(message: string) {
    super('CACHE_INVALID_INPUT', message);
    this.name = 'CacheValidationError';
  }
}

/** Redis was required at start-up and could not be reached. */
export class CacheStartupError extends CacheError {
  constructor(message: string) {
    super('CACHE_REDIS_REQUIRED', message);
    this.name = 'CacheStartupError';
  }
}

/** Redis cannot be asked and this instance's memory does not know the key: nothing was changed. */
export class CacheUnavailableError extends CacheError {
  /** CACHE_OUTCOME_UNKNOWN: the write was sent and not answered; it may or may not have landed. */
  constructor(message: string, code: 'CACHE_UNAVAILABLE' | 'CACHE_OUTCOME_UNKNOWN' = 'CACHE_UNAVAILABLE') {
    super(code, message);
    this.name = 'CacheUnavailableError';
  }
}

/**
 * A write that asked for the fleet's clock (`requireFleetClock`) while this instance cannot stamp it
 * by that clock: Redis' TIME never read since start-up, or versions stamped by the host clock before
 * that still run ahead. Nothing was written.
 */
export class CacheClockNotSyncedError extends CacheError {
  constructor(message: string) {
    super('CACHE_CLOCK_NOT_SYNCED', message);
    this.name = 'CacheClockNotSyncedError';
  }
}

/** `update` lost the race on every attempt: other writers kept changing the key. */
export class CacheConflictError extends CacheError {
  constructor(
    message: string,
    readonly attempts: number,
  ) {
    super('CACHE_CONFLICT', message);
    this.name = 'CacheConflictError';
  }
}

/** `getOrSet`'s factory threw (or timed out) and no value within its grace period was there to serve. */
export class CacheFactoryError extends CacheError {
  constructor(code: 'CACHE_FACTORY_FAILED' | 'CACHE_FACTORY_TIMEOUT', message: string, cause?: unknown) {
    super(code, message, { cause });
    this.name = 'CacheFactoryError';
  }
}
