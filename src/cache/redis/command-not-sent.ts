import { CacheUnavailableError } from '../core/cache.errors.js';

/**
 * The command never left this instance (breaker open, or no time left in its budget): unlike a
 * timeout, its outcome is known, Redis did not change.
 */
export class CommandNotSentError extends CacheUnavailableError {
  constructor(message: string) {
    super(message);
    this.name = 'CommandNotSentError';
  }
}
