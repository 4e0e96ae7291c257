import { Test } from '@nestjs/testing';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from '../../src/app.module.js';
import { configureApp } from '../../src/app.setup.js';
import { loadConfig, type AppConfig, type Env } from '../../src/config/load-config.js';

export interface TestApp {
  app: NestExpressApplication;
  config: AppConfig;
  /** The HTTP server to hand to supertest. */
  http: ReturnType<NestExpressApplication['getHttpServer']>;
  get<T>(token: abstract new (...args: never[]) => T): T;
  close(): Promise<void>;
}

/**
 * The whole app as main.ts builds it, from an explicit environment (never process.env), so each
 * suite chooses its Redis, keys and users without touching the others; `tweak` sets module
 * options that have no variable.
 */
export async function createTestApp(env: Env = {}, tweak?: (config: AppConfig) => void): Promise<TestApp> {
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', ...env });
  // Module options that are no environment variable (tuning a test needs) are set here.
  tweak?.(config);
  const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] }).compile();
  const app = moduleRef.createNestApplication<NestExpressApplication>({ bodyParser: false });
  configureApp(app, config);
  await app.init();
  return {
    app,
    config,
    http: app.getHttpServer(),
    get: (token) => app.get(token),
    close: () => app.close(),
  };
}
