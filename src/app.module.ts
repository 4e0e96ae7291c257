import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { AuthModule } from './auth/index.js';
import { CacheModule } from './cache/index.js';
import { ConsoleModule } from './console/console.module.js';
import { HttpErrorFilter } from './common/http-error.filter.js';
import { APP_CONFIG } from './config/config.constants.js';
import type { AppConfig } from './config/load-config.js';
import { HealthModule } from './health/health.module.js';
import { MetricsService } from './observability/metrics.service.js';
import { ObservabilityModule } from './observability/observability.module.js';
import { ORCHESTRATOR_ERROR_STATUSES, OrchestratorModule } from './orchestrator/index.js';
import { SHAREKHAN_ERROR_STATUSES, ShareKhanAuthModule } from './sharekhan/index.js';

/**
 * The app is one consumer of the modules: it hands each its own slice of the environment (parsed
 * in src/config/) through forRootAsync, and the app's metrics registry to the token module.
 */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ObservabilityModule,
        CacheModule.forRootAsync({ isGlobal: true, inject: [APP_CONFIG], useFactory: (c: AppConfig) => c.cache }),
        HealthModule,
        AuthModule.forRootAsync({ inject: [APP_CONFIG], useFactory: (c: AppConfig) => c.auth }),
        ShareKhanAuthModule.forRootAsync({
          inject: [APP_CONFIG, MetricsService],
          // Tokens only for the trading users, each for its own ShareKhan account.
          useFactory: (c: AppConfig, metrics: MetricsService) => ({
            ...c.sharekhan,
            accounts: (c.orchestrator.users ?? []).map((u) => ({ userId: u.userId, customerId: u.customerId ?? '' })),
            metricsRegistry: metrics.registry,
          }),
        }),
        OrchestratorModule.forRootAsync({
          inject: [APP_CONFIG, MetricsService],
          useFactory: (c: AppConfig, metrics: MetricsService) => ({ ...c.orchestrator, metricsRegistry: metrics.registry }),
        }),
        ConsoleModule.forRoot({ ...config.console, users: config.orchestrator.users ?? [] }),
      ],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        // Every module's code table: a domain error that escapes through any route answers its status.
        { provide: APP_FILTER, useValue: new HttpErrorFilter(SHAREKHAN_ERROR_STATUSES, ORCHESTRATOR_ERROR_STATUSES) },
      ],
      exports: [APP_CONFIG],
      global: true,
    };
  }
}
