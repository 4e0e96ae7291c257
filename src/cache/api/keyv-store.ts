import { EventEmitter } from 'node:events';
import type { CacheApi } from './cache-namespace.js';
import { keyvSpace } from './keyv-space.js';

export interface CacheKeyvStoreOptions {
  /** Namespace of the cache that holds every Keyv key, apart from the app's own keys. Default `keyv`. */
  prefix?: string;
}

/**
 * A Keyv store adapter (`new Keyv({ store })`, and so `@nestjs/cache-manager` / cache-manager
 * stores) over the fallback-aware cache: Keyv's callers get bounded latency, the memory fallback
 * and the versioned replay without changing their code. Works with keyv 5 and keyv 6.
 *
 * Every key lives in the space of the Keyv namespace it was written under (`<namespace>:<key>`),
 * whatever Keyv did to the key first: keyv 5 prefixes keys itself, keyv 6 sees `namespace` here and
 * stops. So no key crosses namespaces on either version (docs/cache.md, "the Keyv store").
 */
export class CacheKeyvStore extends EventEmitter {
  /** Set by Keyv to its namespace; one store per Keyv instance, since Keyv sets it on the store. */
  namespace: string | undefined = undefined;
  /** `dialect`: keyv 5 offers `iterator()` only over stores whose dialect it knows; this one iterates as @keyv/redis does. */
  readonly opts: CacheKeyvStoreOptions & { dialect: 'redis' };
  private readonly cache: CacheApi;

  constructor(cache: CacheApi, options: CacheKeyvStoreOptions = {}) {
    super();
    this.opts = { prefix: options.prefix ?? 'keyv', dialect: 'redis' };
    this.cache = cache.namespace(this.opts.prefix!);
  }

  async get<T>(key: string): Promise<T | undefined> {
    return this.cache.get<T>(this.k(key));
  }

  async getMany<T>(keys: string[]): Promise<(T | undefined)[]> {
    return this.cache.mget<T>(keys.map((key) => this.k(key)));
  }

  async has(key: string): Promise<boolean> {
    return this.cache.exists(this.k(key));
  }

  async hasMany(keys: string[]): Promise<boolean[]> {
    return Promise.all(keys.map((key) => this.cache.exists(this.k(key))));
  }

  /** Keyv's ttl is in milliseconds (keyv 6's bridge turns its absolute expiry into one); 0 or none means no expiry. */
  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    await this.cache.set(
      this.k(key),
      value,
      typeof ttl === 'number' && ttl > 0 ? { ttlMs: ttl } : {},
    );
    return true;
  }

  async setMany(
    entries: Array<{ key: string; value: unknown; ttl?: number }>,
  ): Promise<boolean[]> {
    return Promise.all(entries.map((e) => this.set(e.key, e.value, e.ttl)));
  }

  /**
   * Always deletes (journaled while Redis is down, so the delete survives recovery). The boolean is
   * Keyv's "the key held a value": false only when the read answered miss; unavailable counts as
   * true, since the value may exist in Redis.
   */
  async delete(key: string): Promise<boolean> {
    const read = await this.cache.read(this.k(key));
    await this.cache.delete(this.k(key));
    return read.state !== 'miss';
  }

  /** Whether any of the keys held a value (keyv 5's answer; keyv 6 repeats it for every key). */
  async deleteMany(keys: string[]): Promise<boolean> {
    if (keys.length === 0) return false;
    const full = keys.map((key) => this.k(key));
    const reads = await Promise.all(full.map((k) => this.cache.read(k)));
    await this.cache.deleteMany(full);
    return reads.some((r) => r.state !== 'miss');
  }

  /** Clears this Keyv namespace's space only (bounded SCAN batches and tombstones, never KEYS). */
  async clear(): Promise<void> {
    await this.cache.clear(keyvSpace(this.namespace));
  }

  /**
   * The namespace's live entries as `[key, value]`, keys as Keyv handed them over: bounded SCAN
   * steps, one MGET-coalesced read per batch (expired and deleted keys are skipped), the next step
   * only when Keyv asks for more. Throws `CacheUnavailableError` after memory's keys while Redis cannot be scanned.
   */
  async *iterator(
    namespace: string | undefined = this.namespace,
  ): AsyncGenerator<[string, unknown]> {
    const space = keyvSpace(namespace);
    for await (const keys of this.cache.listKeys(space)) {
      const values = await this.cache.mget<unknown>(keys);
      for (let i = 0; i < keys.length; i++) {
        if (values[i] !== undefined)
          yield [keys[i].slice(space.length + 1), values[i]];
      }
    }
  }

  async disconnect(): Promise<void> {
    // The cache belongs to its Nest module, which closes it on shutdown.
  }

  private k(key: string): string {
    return `${keyvSpace(this.namespace)}:${key}`;
  }
}
