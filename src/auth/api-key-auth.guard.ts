import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { ApiKeyGuard } from './api-key.guard.js';
import { RateLimiter } from './http/rate-limiter.js';

/**
 * `@ApiKeyAuth()`'s one guard: the rate limit, then the API key, as ThrottlerGuard followed by
 * ApiKeyGuard did, in one pass of Nest's guard machinery and without an await when both answer at once.
 */
@Injectable()
export class ApiKeyAuthGuard implements CanActivate {
  constructor(
    private readonly limiter: RateLimiter,
    private readonly keys: ApiKeyGuard,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const counted = this.limiter.check(context);
    return counted ? counted.then(() => this.keys.canActivate(context)) : this.keys.canActivate(context);
  }
}

/** `@RateLimited()`'s guard: the rate limit alone, for routes whose credential is not an API key. */
@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(private readonly limiter: RateLimiter) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const counted = this.limiter.check(context);
    return counted ? counted.then(() => true) : true;
  }
}
