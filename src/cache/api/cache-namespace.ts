import { CacheValidationError } from '../core/cache.errors.js';
import type { ClaimResult, ReadResult, SetOptions, WriteOptions, WriteResult } from '../core/cache.types.js';
import type { ClearResult } from './clear.js';
import type { GetOrSetOptions } from './get-or-set.js';
import type { UpdateOptions, UpdateResult } from './update.js';

/** The key-level API, the same on the cache and on any namespace of it. */
export interface CacheApi {
  get<T>(key: string): Promise<T | undefined>;
  read<T>(key: string): Promise<ReadResult<T>>;
  exists(key: string): Promise<boolean>;
  set(key: string, value: unknown, options?: SetOptions): Promise<WriteResult>;
  setIfAbsent<T>(key: string, value: T, options?: SetOptions): Promise<ClaimResult<T>>;
  delete(key: string, options?: WriteOptions): Promise<WriteResult>;
  getOrSet<T>(key: string, factory: () => T | Promise<T>, options?: GetOrSetOptions): Promise<T>;
  update<T>(key: string, fn: (current: T | undefined) => T, options?: UpdateOptions): Promise<UpdateResult<T>>;
  mget<T>(keys: readonly string[]): Promise<(T | undefined)[]>;
  deleteMany(keys: readonly string[]): Promise<WriteResult[]>;
  /** Deletes every key of a namespace (or, on a namespace with no argument, of that namespace). */
  clear(namespace?: string): Promise<ClearResult>;
  /**
   * The keys of a namespace (or, on a namespace with no argument, of that namespace), relative to
   * this API, in batches from bounded SCAN steps; see api/list-keys.ts.
   */
  listKeys(namespace?: string): AsyncIterable<string[]>;
  namespace(prefix: string): CacheApi;
}

/** Separates a namespace from the keys in it: `users` holds `users:<key>`. */
export const NAMESPACE_SEPARATOR = ':';

export function checkNamespace(prefix: unknown): string {
  if (typeof prefix !== 'string' || prefix.length === 0) throw new CacheValidationError('namespace must be a non-empty string');
  return prefix;
}

/** A scoped view: every key is `<prefix>:<key>` in the parent's key space, with the same semantics. */
export class CacheNamespace implements CacheApi {
  constructor(
    private readonly root: CacheApi,
    readonly prefix: string,
  ) {}

  async get<T>(key: string) {
    return this.root.get<T>(this.k(key));
  }
  async read<T>(key: string) {
    return this.root.read<T>(this.k(key));
  }
  async exists(key: string) {
    return this.root.exists(this.k(key));
  }
  async set(key: string, value: unknown, options?: SetOptions) {
    return this.root.set(this.k(key), value, options);
  }
  async setIfAbsent<T>(key: string, value: T, options?: SetOptions) {
    return this.root.setIfAbsent<T>(this.k(key), value, options);
  }
  async delete(key: string, options?: WriteOptions) {
    return this.root.delete(this.k(key), options);
  }
  async getOrSet<T>(key: string, factory: () => T | Promise<T>, options?: GetOrSetOptions) {
    return this.root.getOrSet<T>(this.k(key), factory, options);
  }
  async update<T>(key: string, fn: (current: T | undefined) => T, options?: UpdateOptions) {
    return this.root.update<T>(this.k(key), fn, options);
  }
  async mget<T>(keys: readonly string[]) {
    return this.root.mget<T>(this.ks(keys));
  }
  async deleteMany(keys: readonly string[]) {
    return this.root.deleteMany(this.ks(keys));
  }
  async clear(namespace?: string) {
    return this.root.clear(namespace === undefined ? this.prefix : this.k(checkNamespace(namespace)));
  }
  async *listKeys(namespace?: string): AsyncGenerator<string[]> {
    const strip = this.prefix.length + NAMESPACE_SEPARATOR.length;
    for await (const keys of this.root.listKeys(namespace === undefined ? this.prefix : this.k(checkNamespace(namespace)))) {
      yield keys.map((k) => k.slice(strip));
    }
  }
  namespace(prefix: string): CacheApi {
    return new CacheNamespace(this.root, this.k(checkNamespace(prefix)));
  }

  private k(key: string): string {
    if (typeof key !== 'string') throw new CacheValidationError('cache key must be a string');
    if (key.length === 0) throw new CacheValidationError('cache key must not be empty');
    return this.prefix + NAMESPACE_SEPARATOR + key;
  }

  private ks(keys: readonly string[]): string[] {
    if (!Array.isArray(keys)) throw new CacheValidationError('keys must be an array of strings');
    return keys.map((key) => this.k(key));
  }
}
