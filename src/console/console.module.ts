import { Module, type DynamicModule } from '@nestjs/common';
import { LOGIN_BROWSER_RETURN } from '../sharekhan/index.js';
import { ConsoleAssetsController } from './console-assets.controller.js';
import { ConsoleLoginReturn } from './console-login-return.js';
import { ConsoleOverviewController } from './console-overview.controller.js';
import { CONSOLE_OPTIONS, type ConsoleModuleOptions } from './console.options.js';

/**
 * The operator console: a static page at /console that drives the REST API with the operator's
 * API key, one read endpoint of its own, and the browser return of the ShareKhan login callback.
 * Disabled, it registers nothing and the callback answers JSON only. See docs/console.md.
 */
@Module({})
export class ConsoleModule {
  static forRoot(options: ConsoleModuleOptions): DynamicModule {
    if (!options.enabled) return { module: ConsoleModule };
    return {
      module: ConsoleModule,
      // Global so ShareKhanAuthModule's callback finds the browser return without importing us.
      // The token store comes from ShareKhanAuthModule, which is global by default.
      global: true,
      controllers: [ConsoleAssetsController, ConsoleOverviewController],
      providers: [
        { provide: CONSOLE_OPTIONS, useValue: options },
        { provide: LOGIN_BROWSER_RETURN, useClass: ConsoleLoginReturn },
      ],
      exports: [LOGIN_BROWSER_RETURN],
    };
  }
}
