import { CacheValidationError } from './cache.errors.js';
import type { SetOptions } from './cache.types.js';

/**
 * Caller input to what is stored: validated, prefixed keys; absolute expiries; JSON values. Bad
 * input is a CacheValidationError (a 4xx for an HTTP caller), never a stored surprise.
 */
export class CacheKeys {
  constructor(
    readonly prefix: string,
    private readonly maxKeyLength: number,
    private readonly clock: () => number,
  ) {}

  full(key: unknown): string {
    if (typeof key !== 'string') throw new CacheValidationError('cache key must be a string');
    if (key.length === 0) throw new CacheValidationError('cache key must not be empty');
    if (key.length > this.maxKeyLength) {
      throw new CacheValidationError(`cache key is ${key.length} characters; at most ${this.maxKeyLength} allowed`);
    }
    if (hasControlCharacter(key)) throw new CacheValidationError('cache key must not contain control characters');
    return this.prefix + key;
  }

  /** A bad key rejects the returned promise, as from an async method, without an extra promise on the hot path. */
  fullOrReject(key: string): string | Promise<never> {
    try {
      return this.full(key);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  fullMany(keys: readonly string[]): string[] {
    if (!Array.isArray(keys)) throw new CacheValidationError('keys must be an array of strings');
    return keys.map((key) => this.full(key));
  }

  expiryFrom(options: SetOptions): number | null {
    if ('ttlMs' in options) {
      const ttl = options.ttlMs;
      if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl <= 0) {
        throw new CacheValidationError('ttlMs must be a positive number of milliseconds');
      }
      return storableExpiry(this.clock() + Math.ceil(ttl), 'ttlMs');
    }
    if ('expiresAt' in options) {
      const at = options.expiresAt instanceof Date ? options.expiresAt.getTime() : options.expiresAt;
      if (typeof at !== 'number' || !Number.isFinite(at)) throw new CacheValidationError('expiresAt must be a Date or epoch milliseconds');
      if (at <= this.clock()) throw new CacheValidationError('expiresAt is in the past');
      return storableExpiry(Math.ceil(at), 'expiresAt');
    }
    return null;
  }
}

/** U+0000-U+001F and U+007F; a loop, not a regex: keys are short and this runs on every operation. */
function hasControlCharacter(key: string): boolean {
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c < 32 || c === 127) return true;
  }
  return false;
}

/** The latest instant a Date can hold: an exact JS number, well inside what Redis' PXAT takes, so an accepted expiry is never rejected on replay. */
const MAX_EXPIRES_AT = 8.64e15;

function storableExpiry(at: number, field: string): number {
  if (at > MAX_EXPIRES_AT) throw new CacheValidationError(`${field} is too large: the expiry must fall before ${new Date(MAX_EXPIRES_AT).toISOString()}`);
  return at;
}

export function serialise(value: unknown): string {
  if (value === undefined) throw new CacheValidationError('value must not be undefined (use delete to remove a key)');
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (err) {
    throw new CacheValidationError(`value cannot be serialised to JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  if (json === undefined) throw new CacheValidationError(`value of type ${typeof value} cannot be serialised to JSON`);
  return json;
}
