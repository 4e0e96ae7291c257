import { Logger, Module, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { APP_CONFIG } from '../config/config.constants.js';
import type { AppConfig } from '../config/load-config.js';
import { ShareKhanClientFactory } from './sharekhan-client.factory.js';
import { ShareKhanSessionService } from './sharekhan-session.service.js';
import { ShareKhanTokenController } from './sharekhan-token.controller.js';
import { TokenAuditLog } from './token-audit.service.js';
import { TokenClock } from './token-clock.js';
import { TokenKeyRing } from './token-crypto.js';
import { TokenMetrics } from './token-metrics.js';
import { ShareKhanTokenStore } from './token-store.service.js';

function keyRingFromConfig(config: AppConfig): TokenKeyRing {
  const { keys, activeKeyId, generated } = config.sharekhan.encryption;
  if (generated) {
    new Logger('ShareKhanAuthModule').warn(
      'TOKEN_ENCRYPTION_KEYS is not set: tokens are encrypted with a throwaway key and cannot be read after a restart or by other instances (production refuses to start like this)',
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
 * endpoints. Exports the store (`lookup`, `markInvalid`, `audit`) and the client factory for the
 * orchestrator.
 */
@Module({
  controllers: [ShareKhanTokenController],
  providers: [
    TokenClock,
    { provide: TokenKeyRing, inject: [APP_CONFIG], useFactory: keyRingFromConfig },
    TokenAuditLog,
    ShareKhanTokenStore,
    ShareKhanClientFactory,
    ShareKhanSessionService,
    TokenMetrics,
  ],
  exports: [ShareKhanTokenStore, ShareKhanClientFactory, TokenClock, TokenMetrics],
})
export class ShareKhanAuthModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(noStore).forRoutes(ShareKhanTokenController);
  }
}
