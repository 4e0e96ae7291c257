import { Global, Module, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { APP_CONFIG } from '../config/config.constants.js';
import type { AppConfig } from '../config/load-config.js';
import { HttpMetricsMiddleware } from './http-metrics.middleware.js';
import { LogLevelSync } from './log-level.sync.js';
import { pinoHttpOptions, usePrettyLogs } from './logging.js';
import { MetricsController } from './metrics.controller.js';
import { MetricsService } from './metrics.service.js';

/**
 * Structured logs (pino, with request ids and redaction), Prometheus metrics and the HTTP
 * metrics middleware. Global so any module can inject MetricsService to add its own numbers.
 */
@Global()
@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: async (config: AppConfig) => {
        await usePrettyLogs(config.app.env === 'development');
        return { pinoHttp: pinoHttpOptions(config.app.logLevel) };
      },
    }),
  ],
  controllers: [MetricsController],
  providers: [MetricsService, HttpMetricsMiddleware, LogLevelSync],
  exports: [MetricsService],
})
export class ObservabilityModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(HttpMetricsMiddleware).forRoutes('{/*splat}');
  }
}
