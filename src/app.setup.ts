import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger } from 'nestjs-pino';
import type { AppConfig } from './config/load-config.js';
import { setupOpenApi } from './observability/openapi.setup.js';
import { QuietNestLogger } from './observability/quiet-nest-logger.js';

/**
 * Everything main.ts does to the app besides listening, shared with the e2e tests so they test the
 * app as it really runs: logger, body limits, API docs, shutdown hooks.
 */
export function configureApp(app: NestExpressApplication, config: AppConfig): void {
  // Nest's own Logger calls (and any buffered during start-up) go through pino from here on,
  // its module and route listing at debug.
  app.useLogger(new QuietNestLogger(app.get(Logger)));
  // Tells a scanner which framework (and so which advisories) to try; nobody else needs it.
  app.disable('x-powered-by');
  app.useBodyParser('json', { limit: config.app.bodyLimitBytes });
  // req.ip is the client's address only when the ingress hop is trusted; the rate limit counts by it.
  app.set('trust proxy', config.app.trustProxy);
  if (config.observability.docs.enabled) setupOpenApi(app);
  app.enableShutdownHooks();
}
