import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { ShareKhanModuleOptions } from './sharekhan.options.js';

/** Global by default: the orchestrator (and an app's own services) find the token store without importing it again. */
export const {
  ConfigurableModuleClass: ShareKhanConfigurableModule,
  MODULE_OPTIONS_TOKEN: SHAREKHAN_MODULE_OPTIONS,
} = new ConfigurableModuleBuilder<ShareKhanModuleOptions>()
  .setClassMethodName('forRoot')
  .setExtras({ isGlobal: true }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();
