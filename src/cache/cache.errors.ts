/** The caller sent something the cache cannot store: a bad key, value or expiry. */
export class CacheValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CacheValidationError';
  }
}

/** Redis was required at start-up and could not be reached. */
export class CacheStartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CacheStartupError';
  }
}
