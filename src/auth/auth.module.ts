import { Logger, Module } from '@nestjs/common';
import { normalizeIp, type ThrottlerModuleOptions } from '@nestjs/throttler';
import type { Request } from 'express';
import { ApiKeyAuthGuard, RateLimitGuard } from './api-key-auth.guard.js';
import { ApiKeyGuard } from './api-key.guard.js';
import { API_KEY_HEADER, ApiKeyService } from './api-key.service.js';
import { AUTH_MODULE_OPTIONS, AuthConfigurableModule } from './auth.module-definition.js';
import { AUTH_SETTINGS, resolveAuthOptions, type AuthModuleOptions, type AuthSettings } from './auth.options.js';
import { CacheThrottlerStorage } from './cache-throttler.storage.js';
import { RATE_LIMIT_OPTIONS, RateLimiter } from './http/rate-limiter.js';

/**
 * One budget per API key across every route (a guessed key is not multiplied by the number of
 * routes), shared by all replicas through the cache; requests without a valid key are counted
 * per client address (`req.ip`: set Express `trust proxy` to the ingress hops so it is the
 * client's, not the ingress'), IPv6 addresses per /64.
 */
export function throttlerOptions(settings: AuthSettings, storage: CacheThrottlerStorage, keys = new ApiKeyService(settings)): ThrottlerModuleOptions {
  const { limit, windowMs, ipv6SubnetPrefix } = settings.rateLimit;
  if (!keys.configured) new Logger('AuthModule').warn('No API keys are configured: every API-key protected endpoint answers 401');
  return {
    throttlers: [{ name: 'default', limit, ttl: windowMs }],
    storage,
    getTracker: (req: Record<string, unknown>) => {
      const r = req as unknown as Request;
      const caller = keys.authenticateRequest(r, r.headers?.[API_KEY_HEADER]);
      if (caller) return `key:${caller.name}`;
      return `ip:${normalizeIp(r.ip ?? r.socket?.remoteAddress ?? 'unknown', ipv6SubnetPrefix) ?? 'unknown'}`;
    },
    // Not per route: the tracker alone names the budget.
    generateKey: (_context, tracker, name) => `${name}:${tracker}`,
    errorMessage: `Too many requests: at most ${limit} per ${windowMs / 1000} s; wait the number of seconds in the Retry-After header`,
  };
}

/**
 * API-key authentication and rate limiting for every module's endpoints (global by default).
 * `AuthModule.forRoot({ apiKeys, rateLimit })` / `forRootAsync(...)`; needs a global `CacheModule`.
 */
@Module({
  providers: [
    { provide: AUTH_SETTINGS, inject: [AUTH_MODULE_OPTIONS], useFactory: (o: AuthModuleOptions) => resolveAuthOptions(o) },
    ApiKeyService,
    ApiKeyGuard,
    CacheThrottlerStorage,
    // ThrottlerModule's option shape under our own token: an app's own ThrottlerModule, ThrottlerGuard,
    // @Throttle() and @SkipThrottle() stay the app's (borrowing throttler's tokens overrode its limits).
    // The guard's ApiKeyService: a request's key is then checked once for both.
    { provide: RATE_LIMIT_OPTIONS, inject: [AUTH_SETTINGS, CacheThrottlerStorage, ApiKeyService], useFactory: throttlerOptions },
    // Applies those options itself: ThrottlerGuard read a dozen metadata entries and awaited five promises per request.
    RateLimiter,
    ApiKeyAuthGuard,
    RateLimitGuard,
  ],
  exports: [AUTH_SETTINGS, ApiKeyService, ApiKeyGuard, RateLimiter, ApiKeyAuthGuard, RateLimitGuard, RATE_LIMIT_OPTIONS],
})
export class AuthModule extends AuthConfigurableModule {}
