import { Inject, Injectable, type ExecutionContext } from '@nestjs/common';
import { ThrottlerException, type ThrottlerModuleOptions } from '@nestjs/throttler';
import type { Response } from 'express';
import { CacheThrottlerStorage, type ThrottlerStorageRecord } from '../cache-throttler.storage.js';

/** AuthModule's budget, in ThrottlerModule's option shape (`throttlerOptions`), under a token of its own. */
export const RATE_LIMIT_OPTIONS = Symbol('AUTH_RATE_LIMIT_OPTIONS');

type OptionsObject = Exclude<ThrottlerModuleOptions, unknown[]>;

/**
 * The budget `throttlerOptions` describes (one per API key, else per client address), applied the
 * way ThrottlerGuard applies it: the same counter key, the same headers, the same 429. Without its
 * per-request metadata lookups and awaits, and synchronously when the count is local (memory mode).
 */
@Injectable()
export class RateLimiter {
  private readonly throttler: { name: string; limit: number; ttl: number };
  private readonly options: OptionsObject;
  private readonly message: string | undefined;

  constructor(@Inject(RATE_LIMIT_OPTIONS) options: ThrottlerModuleOptions, private readonly storage: CacheThrottlerStorage) {
    if (Array.isArray(options) || options.throttlers.length !== 1) throw new Error('RateLimiter expects the one throttler throttlerOptions() builds');
    const [t] = options.throttlers;
    if (typeof t.limit !== 'number' || typeof t.ttl !== 'number') throw new Error('RateLimiter expects a numeric limit and ttl');
    this.options = options;
    this.throttler = { name: t.name ?? 'default', limit: t.limit, ttl: t.ttl };
    this.message = typeof options.errorMessage === 'string' ? options.errorMessage : undefined;
  }

  /** Counts the request against its budget; throws ThrottlerException (429, Retry-After) past it. */
  check(context: ExecutionContext): void | Promise<void> {
    const http = context.switchToHttp();
    const req = http.getRequest<Record<string, unknown>>();
    const res = http.getResponse<Response>();
    // throttlerOptions' tracker is synchronous; ThrottlerGuard awaits it, so a custom one may not be.
    const tracker = this.options.getTracker!(req, context) as string | Promise<string>;
    return typeof tracker === 'string' ? this.count(context, res, tracker) : tracker.then((t) => this.count(context, res, t));
  }

  private count(context: ExecutionContext, res: Response, tracker: string): void | Promise<void> {
    const { name, limit, ttl } = this.throttler;
    const key = this.options.generateKey!(context, tracker, name);
    const local = this.storage.countLocally(key, ttl, limit);
    if (local) return this.answer(res, local);
    return this.storage.increment(key, ttl, limit).then((hit) => this.answer(res, hit));
  }

  private answer(res: Response, hit: ThrottlerStorageRecord): void {
    if (hit.isBlocked) {
      res.setHeader('Retry-After', String(hit.timeToBlockExpire));
      throw new ThrottlerException(this.message);
    }
    res.setHeader('X-RateLimit-Limit', String(this.throttler.limit));
    res.setHeader('X-RateLimit-Remaining', String(Math.max(0, this.throttler.limit - hit.totalHits)));
    res.setHeader('X-RateLimit-Reset', String(hit.timeToExpire));
  }
}
