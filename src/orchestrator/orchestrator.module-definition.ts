import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { OrchestratorModuleOptions } from './orchestrator.options.js';

export const {
  ConfigurableModuleClass: OrchestratorConfigurableModule,
  MODULE_OPTIONS_TOKEN: ORCHESTRATOR_MODULE_OPTIONS,
} = new ConfigurableModuleBuilder<OrchestratorModuleOptions>().setClassMethodName('forRoot').build();
