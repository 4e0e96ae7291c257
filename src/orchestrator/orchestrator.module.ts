import { Inject, Logger, Module, RequestMethod, type MiddlewareConsumer, type NestModule, type OnModuleInit } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { dispatcherFetch } from '../common/dispatcher-fetch.js';
import { ShareKhanClientFactory, ShareKhanTokenStore, StaticTokens, TradingAccounts } from '../sharekhan/index.js';
import { BrokerRateLimit } from './broker-rate-limit.js';
import { LiveBroker, NotConfiguredClient, type LiveOrderClient } from './live-broker.js';
import { OrchestratorController } from './orchestrator.controller.js';
import { ORCHESTRATOR_MODULE_OPTIONS, OrchestratorConfigurableModule } from './orchestrator.module-definition.js';
import { resolveOrchestratorOptions, type OrchestratorModuleOptions, type OrchestratorSettings } from './orchestrator.options.js';
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
import { TokenPrefetchMiddleware } from './token-prefetch.middleware.js';
import { TOKEN_STORE } from './token-store.port.js';
import { UserRegistry } from './user-registry.js';

/**
 * Resolves each user's own token before every trade and places orders on the user's own broker
 * (paper or ShareKhan), one at a time or fanned out from a signal.
 * `OrchestratorModule.forRoot(options)` / `forRootAsync(...)`; needs `ShareKhanAuthModule` (global).
 */
@Module({
  imports: [ScheduleModule.forRoot()],
  controllers: [OrchestratorController],
  providers: [
    {
      provide: ORCHESTRATOR_SETTINGS,
      inject: [ORCHESTRATOR_MODULE_OPTIONS, StaticTokens],
      useFactory: (options: OrchestratorModuleOptions, staticTokens: StaticTokens): OrchestratorSettings =>
        resolveOrchestratorOptions(options, staticTokens.userIds()),
    },
    { provide: TOKEN_STORE, useExisting: ShareKhanTokenStore },
    {
      provide: LIVE_ORDER_CLIENT,
      inject: [ShareKhanClientFactory, ORCHESTRATOR_SETTINGS],
      // Its own timeout: how long an order may hang before it is reported unknown is an
      // orchestrator decision, not the token endpoints'. The global fetch's pool without its
      // per-call overhead (src/common/dispatcher-fetch.ts).
      useFactory: (factory: ShareKhanClientFactory, settings: OrchestratorSettings): LiveOrderClient =>
        factory.configured ? factory.create({ timeoutMs: settings.orderTimeoutMs, fetch: dispatcherFetch }) : new NotConfiguredClient(() => factory.notConfiguredError()),
    },
    UserRegistry,
    TokenResolver,
    PaperBroker,
    LiveBroker,
    BrokerRateLimit,
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
export class OrchestratorModule extends OrchestratorConfigurableModule implements OnModuleInit, NestModule {
  private readonly logger = new Logger('OrchestratorModule');

  constructor(
    @Inject(ORCHESTRATOR_SETTINGS) private readonly settings: OrchestratorSettings,
    private readonly clients: ShareKhanClientFactory,
    accounts: TradingAccounts,
  ) {
    super();
    // Tokens are then stored only for these users, each bound to its own ShareKhan account.
    accounts.register(settings.users.map((u) => ({ userId: u.userId, customerId: u.customerId ?? '' })));
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(TokenPrefetchMiddleware).forRoutes({ path: 'orchestrator/orders', method: RequestMethod.POST });
  }

  onModuleInit(): void {
    const live = this.settings.users.filter((u) => u.mode === 'live').length;
    this.logger.log(`${this.settings.users.length} trading users (${live} live, ${this.settings.users.length - live} paper)`);
    if (live > 0 && !this.clients.configured) {
      const missing = this.clients.notConfiguredError().settings.join(' and ');
      this.logger.warn(`${missing} is not set: every live order is refused (BROKER_NOT_CONFIGURED) until it is set`);
    }
    if (this.settings.strayEnvTokenVars.length > 0) {
      // Ids only: a token under an id that is not a trading user is never used for anyone.
      this.logger.warn(`Static tokens ignored for trading (no such trading user): ${this.settings.strayEnvTokenVars.join(', ')}`);
    }
  }
}
