import { Inject, Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { APP_CONFIG } from '../config/config.constants.js';
import type { AppConfig } from '../config/load-config.js';

/**
 * nestjs-pino keeps one root logger per process, built from the first app's options; an app
 * created later in the same process (tests) would inherit that app's level. This applies ours.
 */
@Injectable()
export class LogLevelSync {
  constructor(@Inject(APP_CONFIG) config: AppConfig, pino: PinoLogger) {
    void pino;
    if (PinoLogger.root) PinoLogger.root.level = config.app.logLevel;
  }
}
