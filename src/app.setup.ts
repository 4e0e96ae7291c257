import type { NestExpressApplication } from '@nestjs/platform-express';
import type { AppConfig } from './config/load-config.js';

/**
 * Everything main.ts does to the app besides listening, shared with the e2e tests so they test the
 * app as it really runs: body limits, shutdown hooks.
 */
export function configureApp(app: NestExpressApplication, config: AppConfig): void {
  app.useBodyParser('json', { limit: config.app.bodyLimitBytes });
  app.enableShutdownHooks();
}
