/** DI tokens of the orchestrator's own providers. */
export const ORCHESTRATOR_SETTINGS = Symbol('ORCHESTRATOR_SETTINGS');
/** The object that sends live orders (a ShareKhanClient in the app, a stub in unit tests). */
export const LIVE_ORDER_CLIENT = Symbol('ORCHESTRATOR_LIVE_ORDER_CLIENT');
