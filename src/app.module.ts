import { Module, type DynamicModule } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { CacheModule } from './cache/cache.module.js';
import { APP_CONFIG } from './config/config.constants.js';
import type { AppConfig } from './config/load-config.js';
import { HealthModule } from './health/health.module.js';

/** Composition only: each feature module brings its own providers and controllers. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, load: [() => config] }),
        CacheModule.forRootAsync({
          isGlobal: true,
          inject: [ConfigService],
          useFactory: (cfg: ConfigService) => cfg.getOrThrow<AppConfig['cache']>('cache'),
        }),
        HealthModule,
      ],
      providers: [{ provide: APP_CONFIG, useValue: config }],
      exports: [APP_CONFIG],
      global: true,
    };
  }
}
