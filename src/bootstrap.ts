import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { AddressInfo } from 'node:net';
import { AppModule } from './app.module.js';
import { configureApp } from './app.setup.js';
import { CacheService } from './cache/index.js';
import type { AppConfig } from './config/load-config.js';
import { DOCS_PATH } from './observability/openapi.setup.js';

/** Builds, configures and starts the app; main.ts adds only the process exits around it. */
export async function startApp(config: AppConfig): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    bodyParser: false,
    // Held until configureApp installs the pino logger, so start-up lines are JSON too.
    bufferLogs: true,
  });
  configureApp(app, config);
  await app.listen(config.app.port);
  const { port } = app.getHttpServer().address() as AddressInfo;
  const cache = app.get(CacheService).getStatus();
  const waiting = cache.redisConfigured && !cache.connected ? ', Redis not connected yet' : '';
  const logger = new Logger('Bootstrap');
  logger.log(`Listening on port ${port} (NODE_ENV ${config.app.env}, cache mode ${cache.mode}${waiting})`);
  logger.log(whereToLook(port, config));
  return app;
}

/** The first thing a new operator needs: where the console and the API docs are (or how to turn them on). */
function whereToLook(port: number, config: AppConfig): string {
  const base = `http://localhost:${port}`;
  const consoleAt = config.console.enabled ? `${base}/console` : 'off (CONSOLE_ENABLED=true turns it on)';
  const docsAt = config.observability.docs.enabled ? `${base}/${DOCS_PATH}` : 'off (DOCS_ENABLED=true turns them on)';
  return `Console: ${consoleAt}; API docs: ${docsAt}`;
}
