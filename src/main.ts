import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { ConfigError, loadConfig, type AppConfig } from './config/load-config.js';
import { AppModule } from './app.module.js';
import { configureApp } from './app.setup.js';

function configOrExit(): AppConfig {
  try {
    return loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      // One line an operator can act on; a stack trace would bury it.
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

async function bootstrap() {
  const config = configOrExit();
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    bodyParser: false,
    // Held until configureApp installs the pino logger, so start-up lines are JSON too.
    bufferLogs: true,
  });
  configureApp(app, config);
  await app.listen(config.app.port);
}

bootstrap().catch((err: Error) => {
  process.stderr.write(`Start-up failed: ${err.name}: ${err.message}\n`);
  process.exit(1);
});
