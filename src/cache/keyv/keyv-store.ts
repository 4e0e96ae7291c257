import { EventEmitter } from 'node:events';
import type { CacheApi } from '../api/cache-namespace.js';

export interface CacheKeyvStoreOptions {
  /** Namespace of the cache that holds every Keyv key, apart from the app's own keys. Default `keyv`. */
  prefix?: string;
}

/**
 * A Keyv store adapter (`new Keyv({ store })`, and so `@nestjs/cache-manager` / cache-manager
 * stores) over the fallback-aware cache: Keyv's callers get bounded latency, the memory fallback
 * and the versioned replay without changing their code. Keyv hands over keys already prefixed
 * with its own namespace (`<namespace>:<key>`), so `clear()` clears exactly that namespace.
 */
export class CacheKeyvStore extends EventEmitter {
  /** Set by Keyv to its own namespace. */
  namespace?: string;
  readonly opts: CacheKeyvStoreOptions;
  private readonly cache: CacheApi;

  constructor(cache: CacheApi, options: CacheKeyvStoreOptions = {}) {
    super();
    this.opts = { prefix: options.prefix ?? 'keyv' };
    this.cache = cache.namespace(this.opts.prefix!);
  }

  async get<T>(key: string): Promise<T | undefined> {
    return this.cache.get<T>(key);
  }

  async getMany<T>(keys: string[]): Promise<(T | undefined)[]> {
    return this.cache.mget<T>(keys);
  }

  async has(key: string): Promise<boolean> {
    return this.cache.exists(key);
  }

  async hasMany(keys: string[]): Promise<boolean[]> {
    return Promise.all(keys.map((k) => this.cache.exists(k)));
  }

  /** Keyv's ttl is in milliseconds; 0 or none means no expiry. */
  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    await this.cache.set(key, value, typeof ttl === 'number' && ttl > 0 ? { ttlMs: ttl } : {});
    return true;
  }

  async setMany(entries: Array<{ key: string; value: unknown; ttl?: number }>): Promise<void> {
    await Promise.all(entries.map((e) => this.set(e.key, e.value, e.ttl)));
  }

  /**
   * Always deletes (journaled while Redis is down, so the delete survives recovery). The boolean is
   * Keyv's "the key held a value": false only when the read answered miss; unavailable counts as
   * true, since the value may exist in Redis.
   */
  async delete(key: string): Promise<boolean> {
    const read = await this.cache.read(key);
    await this.cache.delete(key);
    return read.state !== 'miss';
  }

  async deleteMany(keys: string[]): Promise<boolean> {
    if (keys.length === 0) return false;
    const reads = await Promise.all(keys.map((k) => this.cache.read(k)));
    await this.cache.deleteMany(keys);
    return reads.some((r) => r.state !== 'miss');
  }

  /** Clears Keyv's namespace only (bounded SCAN batches, never KEYS). */
  async clear(): Promise<void> {
    await this.cache.clear(this.namespace);
  }

  async disconnect(): Promise<void> {
    // The cache belongs to its Nest module, which closes it on shutdown.
  }
}
