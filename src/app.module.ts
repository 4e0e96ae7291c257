import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { AuthModule } from './auth/auth.module.js';
import { CacheModule } from './cache/cache.module.js';
import { ConsoleModule } from './console/console.module.js';
import { HttpErrorFilter } from './common/http-error.filter.js';
import { APP_CONFIG } from './config/config.constants.js';
import type { AppConfig } from './config/load-config.js';
import { HealthModule } from './health/health.module.js';
import { ObservabilityModule } from './observability/observability.module.js';
import { OrchestratorModule } from './orchestrator/orchestrator.module.js';
import { ShareKhanAuthModule } from './sharekhan/sharekhan.module.js';

/** Composition only: each feature module brings its own providers and controllers. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, load: [() => config] }),
        ObservabilityModule,
        CacheModule.forRootAsync({
          isGlobal: true,
          inject: [ConfigService],
          useFactory: (cfg: ConfigService) => cfg.getOrThrow<AppConfig['cache']>('cache'),
        }),
        HealthModule,
        AuthModule,
        ShareKhanAuthModule,
        OrchestratorModule,
        ConsoleModule.forRoot({ ...config.console, users: config.orchestrator.users, cutoffMinutesIst: config.sharekhan.cutoffMinutesIst }),
      ],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: APP_FILTER, useClass: HttpErrorFilter },
      ],
      exports: [APP_CONFIG],
      global: true,
    };
  }
}
