import { Global, Logger, Module } from '@nestjs/common';
import { ThrottlerModule, type ThrottlerModuleOptions } from '@nestjs/throttler';
import type { Request } from 'express';
import { APP_CONFIG } from '../config/config.constants.js';
import type { AppConfig } from '../config/load-config.js';
import { ApiKeyGuard } from './api-key.guard.js';
import { API_KEY_HEADER, ApiKeyService } from './api-key.service.js';

/**
 * Budgets are per API key when the request carries a valid one, otherwise per client address,
 * so one busy key does not starve another and guessing keys is limited too.
 */
export function throttlerOptions(config: AppConfig): ThrottlerModuleOptions {
  const keys = new ApiKeyService(config);
  const { limit, windowMs } = config.auth.rateLimit;
  if (!keys.configured) {
    new Logger('AuthModule').warn('API_KEYS is empty: every API-key protected endpoint answers 401');
  }
  return {
    throttlers: [{ name: 'default', limit, ttl: windowMs }],
    getTracker: (req: Record<string, unknown>) => {
      const r = req as unknown as Request;
      const caller = keys.authenticate(r.headers?.[API_KEY_HEADER]);
      return caller ? `key:${caller.name}` : `ip:${r.ip ?? r.socket?.remoteAddress ?? 'unknown'}`;
    },
    errorMessage: `Too many requests: at most ${limit} per ${windowMs / 1000} s; wait the number of seconds in the Retry-After header`,
  };
}

/** API-key authentication and rate limiting for every module's endpoints (global). */
@Global()
@Module({
  imports: [ThrottlerModule.forRootAsync({ inject: [APP_CONFIG], useFactory: throttlerOptions })],
  providers: [ApiKeyService, ApiKeyGuard],
  exports: [ApiKeyService, ApiKeyGuard, ThrottlerModule],
})
export class AuthModule {}
