import { Inject, Logger, Module, type OnModuleInit } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { APP_CONFIG } from '../config/config.constants.js';
import type { AppConfig } from '../config/load-config.js';
import type { OrchestratorSettings } from '../config/orchestrator.section.js';
import { ShareKhanClientFactory, ShareKhanNotConfiguredError } from '../sharekhan/sharekhan-client.factory.js';
import { ShareKhanAuthModule } from '../sharekhan/sharekhan.module.js';
import { TokenMetrics } from '../sharekhan/token-metrics.js';
import { ShareKhanTokenStore } from '../sharekhan/token-store.service.js';
import { LiveBroker, type LiveOrderClient } from './live-broker.js';
import { OrchestratorController } from './orchestrator.controller.js';
import { LIVE_ORDER_CLIENT, ORCHESTRATOR_SETTINGS } from './orchestrator.tokens.js';
import { OrderBook } from './order-book.js';
import { OrderExecutor } from './order-executor.js';
import { OrderMetrics } from './order-metrics.js';
import { PaperBroker } from './paper-broker.js';
import { PremarketCheckService } from './premarket-check.service.js';
import { ReadinessService } from './readiness.service.js';
import { SignalClaims } from './signal-claims.js';
import { SignalFanout } from './signal-fanout.js';
import { TokenResolver } from './token-resolver.js';
import { TOKEN_STORE } from './token-store.port.js';
import { UserRegistry } from './user-registry.js';

/** Without SHAREKHAN_API_KEY no live order can be sent; say so per order instead of failing start-up. */
const notConfiguredClient: LiveOrderClient = {
  placeOrder: () => Promise.reject(new ShareKhanNotConfiguredError('SHAREKHAN_API_KEY')),
};

/**
 * Resolves each user's own token before every trade and places orders on the user's own broker
 * (paper or ShareKhan), one at a time or fanned out from a signal.
 */
@Module({
  imports: [ScheduleModule.forRoot(), ShareKhanAuthModule],
  controllers: [OrchestratorController],
  providers: [
    {
      provide: ORCHESTRATOR_SETTINGS,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig): OrchestratorSettings => config.orchestrator,
    },
    { provide: TOKEN_STORE, useExisting: ShareKhanTokenStore },
    {
      provide: LIVE_ORDER_CLIENT,
      inject: [ShareKhanClientFactory, ORCHESTRATOR_SETTINGS],
      // Its own timeout: how long an order may hang before it is reported unknown is an
      // orchestrator decision, not the token endpoints'.
      useFactory: (factory: ShareKhanClientFactory, settings: OrchestratorSettings): LiveOrderClient =>
        factory.configured ? factory.create({ timeoutMs: settings.orderTimeoutMs }) : notConfiguredClient,
    },
    UserRegistry,
    TokenResolver,
    PaperBroker,
    LiveBroker,
    OrderBook,
    OrderExecutor,
    OrderMetrics,
    SignalClaims,
    SignalFanout,
    ReadinessService,
    PremarketCheckService,
  ],
  exports: [UserRegistry, TokenResolver, ReadinessService, PremarketCheckService],
})
export class OrchestratorModule implements OnModuleInit {
  private readonly logger = new Logger('OrchestratorModule');

  constructor(
    @Inject(ORCHESTRATOR_SETTINGS) private readonly settings: OrchestratorSettings,
    private readonly clients: ShareKhanClientFactory,
    private readonly tokenMetrics: TokenMetrics,
  ) {}

  onModuleInit(): void {
    // A trading user with no token at all is "missing" in broker_tokens, not absent from it.
    this.tokenMetrics.expectUsers(this.settings.users.map((u) => u.userId).filter((id) => !this.settings.envTokens.has(id)));
    const live = this.settings.users.filter((u) => u.mode === 'live').length;
    this.logger.log(`${this.settings.users.length} trading users (${live} live, ${this.settings.users.length - live} paper)`);
    if (live > 0 && !this.clients.configured) {
      this.logger.warn('SHAREKHAN_API_KEY is not set: every live order is refused (BROKER_NOT_CONFIGURED) until it is');
    }
    if (this.settings.strayEnvTokenVars.length > 0) {
      // Names only: a token under an id that is not a trading user is never used for anyone.
      this.logger.warn(`Ignored for trading (no such user in TRADING_USERS): ${this.settings.strayEnvTokenVars.join(', ')}`);
    }
  }
}
