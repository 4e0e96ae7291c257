export { OrchestratorModule } from './orchestrator.module.js';
export { ORCHESTRATOR_ERROR_STATUSES } from './orchestrator.error-statuses.js';
export {
  orchestratorOptionsSchema,
  resolveOrchestratorOptions,
  type OrchestratorModuleOptions,
  type OrchestratorSettings,
  type TradingUser,
  type TradingMode,
  type PremarketTime,
} from './orchestrator.options.js';
export { UserRegistry } from './user-registry.js';
export { TokenResolver, type TokenResolution, type ResolvedToken, type TokenProblem } from './token-resolver.js';
export { ReadinessService } from './readiness.service.js';
export { PremarketCheckService } from './premarket-check.service.js';
