import type { TokenView } from '../tokens/token-store.service.js';

/**
 * Where a browser that finished the ShareKhan login is sent instead of a JSON answer. Provided by
 * a module that has a page for it (the operator console); without a provider the callback answers
 * JSON to everyone.
 */
export const LOGIN_BROWSER_RETURN = Symbol('sharekhan-login-browser-return');

export type LoginOutcome =
  | { ok: true; token: TokenView }
  /** `code`: the error's code when it has one (e.g. LOGIN_STATE_UNKNOWN, REQUEST_TOKEN_AUTH_FAILED). */
  | { ok: false; statusCode: number; message: string; code?: string };

export interface LoginBrowserReturn {
  /** A same-origin URL carrying the outcome, never a token or a request token. */
  urlFor(outcome: LoginOutcome): string;
}
