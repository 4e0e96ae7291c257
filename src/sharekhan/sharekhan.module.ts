import { Logger, Module, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { ShareKhanClientFactory } from './sharekhan-client.factory.js';
import { ShareKhanSessionService } from './sharekhan-session.service.js';
import { ShareKhanTokenController } from './sharekhan-token.controller.js';
import { SHAREKHAN_MODULE_OPTIONS, ShareKhanConfigurableModule } from './sharekhan.module-definition.js';
import { SHAREKHAN_SETTINGS, resolveShareKhanOptions, type ShareKhanModuleOptions, type ShareKhanSettings } from './sharekhan.options.js';
import { StaticTokens } from './static-tokens.js';
import { TokenAuditLog } from './token-audit.service.js';
import { TokenClock } from './token-clock.js';
import { TokenKeyRing } from './token-crypto.js';
import { TokenMetrics } from './token-metrics.js';
import { ShareKhanTokenStore } from './token-store.service.js';

function keyRingFromSettings(settings: ShareKhanSettings): TokenKeyRing {
  const { keys, activeKeyId, generated } = settings.encryption;
  if (generated) {
    new Logger('ShareKhanAuthModule').warn(
      'No token encryption key is configured: tokens are encrypted with a throwaway key and cannot be read after a restart or by other instances',
    );
  }
  return TokenKeyRing.fromBase64(keys, activeKeyId);
}

/** Token responses must never be kept by a browser or a proxy, error answers included. */
function noStore(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
  next();
}

/**
 * Each user's daily ShareKhan access token: encrypted store, audit log, login flow and REST
 * endpoints. `ShareKhanAuthModule.forRoot(options)` / `forRootAsync({ imports, inject, useFactory })`;
 * needs `CacheService` (a global `CacheModule`) and `ApiKeyGuard` (a global `AuthModule`).
 * Exports the store and the client factory for the orchestrator.
 */
@Module({
  controllers: [ShareKhanTokenController],
  providers: [
    {
      provide: SHAREKHAN_SETTINGS,
      inject: [SHAREKHAN_MODULE_OPTIONS],
      useFactory: (options: ShareKhanModuleOptions) => resolveShareKhanOptions(options),
    },
    TokenClock,
    { provide: TokenKeyRing, inject: [SHAREKHAN_SETTINGS], useFactory: keyRingFromSettings },
    TokenAuditLog,
    ShareKhanTokenStore,
    ShareKhanClientFactory,
    ShareKhanSessionService,
    TokenMetrics,
    StaticTokens,
  ],
  exports: [ShareKhanTokenStore, ShareKhanClientFactory, TokenClock, StaticTokens, SHAREKHAN_SETTINGS],
})
export class ShareKhanAuthModule extends ShareKhanConfigurableModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(noStore).forRoutes(ShareKhanTokenController);
  }
}
