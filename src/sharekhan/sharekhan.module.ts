import { Logger, Module, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { ShareKhanClientFactory } from './broker/sharekhan-client.factory.js';
import { ShareKhanLoginService } from './login/login.service.js';
import { ShareKhanTokenController } from './http/sharekhan-token.controller.js';
import { SHAREKHAN_MODULE_OPTIONS, ShareKhanConfigurableModule } from './sharekhan.module-definition.js';
import {
  SHAREKHAN_PUBLIC_SETTINGS,
  SHAREKHAN_SETTINGS,
  publicShareKhanSettings,
  resolveShareKhanOptions,
  type ShareKhanModuleOptions,
  type ShareKhanSettings,
} from './sharekhan.options.js';
import { StaticTokens } from './tokens/static-tokens.js';
import { TokenAuditLog } from './tokens/token-audit.service.js';
import { TokenClock } from './tokens/token-clock.js';
import { TokenKeyRing } from './tokens/token-crypto.js';
import { TokenMetrics } from './tokens/token-metrics.js';
import { TradingAccounts } from './tokens/trading-accounts.js';
import { ShareKhanTokenStore } from './tokens/token-store.service.js';

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
 * Exports the store and the client factory for the orchestrator; of the settings only the public
 * part (SHAREKHAN_PUBLIC_SETTINGS): keys, secrets and static tokens stay inside the module.
 */
@Module({
  controllers: [ShareKhanTokenController],
  providers: [
    {
      provide: SHAREKHAN_SETTINGS,
      inject: [SHAREKHAN_MODULE_OPTIONS],
      useFactory: (options: ShareKhanModuleOptions) => resolveShareKhanOptions(options),
    },
    { provide: SHAREKHAN_PUBLIC_SETTINGS, inject: [SHAREKHAN_SETTINGS], useFactory: publicShareKhanSettings },
    TokenClock,
    { provide: TokenKeyRing, inject: [SHAREKHAN_SETTINGS], useFactory: keyRingFromSettings },
    TokenAuditLog,
    ShareKhanTokenStore,
    ShareKhanClientFactory,
    ShareKhanLoginService,
    TokenMetrics,
    StaticTokens,
    { provide: TradingAccounts, inject: [SHAREKHAN_SETTINGS], useFactory: (s: ShareKhanSettings) => new TradingAccounts(s.accounts, s.settingNames.accounts) },
  ],
  exports: [ShareKhanTokenStore, ShareKhanClientFactory, TokenClock, StaticTokens, TradingAccounts, SHAREKHAN_PUBLIC_SETTINGS],
})
export class ShareKhanAuthModule extends ShareKhanConfigurableModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    // Per route of the controller, not a fixed path: Nest then includes any prefix the app mounts
    // the module under (RouterModule), which a path written here would miss.
    consumer.apply(noStore).forRoutes(ShareKhanTokenController);
  }
}
