/** The start-up main.ts loads once the Node version is known to be supported. */
import 'reflect-metadata';
import { ConfigError, loadConfig, type AppConfig } from './config/load-config.js';
import { startApp } from './bootstrap.js';

function configOrExit(): AppConfig {
  try {
    return loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      // One line per problem an operator can act on; a stack trace would bury them.
      for (const problem of err.problems) process.stderr.write(`Invalid configuration: ${problem}\n`);
      process.exit(1);
    }
    throw err;
  }
}

startApp(configOrExit()).catch((err: Error) => {
  process.stderr.write(`Start-up failed: ${err.name}: ${err.message}\n`);
  process.exit(1);
});
