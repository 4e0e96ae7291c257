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

  /** True when the key held a value: Keyv's contract (a delete of nothing resolves to false). */
  async delete(key: string): Promise<boolean> {
    const existed = await this.cache.exists(key);
    if (existed) await this.cache.delete(key);
    return existed;
  }

  async deleteMany(keys: string[]): Promise<boolean> {
    const existed = await Promise.all(keys.map((k) => this.cache.exists(k)));
    const present = keys.filter((_k, i) => existed[i]);
    if (present.length > 0) await this.cache.deleteMany(present);
    return present.length > 0;
  }

  /** Clears Keyv's namespace only (bounded SCAN batches, never KEYS). */
  async clear(): Promise<void> {
    await this.cache.clear(this.namespace);
  }

  async disconnect(): Promise<void> {
    // The cache belongs to its Nest module, which closes it on shutdown.
  }
}
