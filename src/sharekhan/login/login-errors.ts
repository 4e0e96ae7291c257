import { DomainError } from '../../common/domain-error.js';
import type { SettingNamer } from '../../common/setting-names.js';
import { BrokerAuthError, BrokerBadRequestError, BrokerRateLimitError, BrokerTimeoutError, type BrokerError } from '../broker/broker-errors.js';
import type { RequestTokenErrorCode } from './request-token-exchange.js';

/**
 * Why a ShareKhan login callback failed, one code per cause an operator fixes differently: a
 * state to start again, a secret key to correct, a broker refusal. The console shows a sentence
 * per code (the URL it is sent back to carries codes only).
 */
export type LoginFailureCode =
  | 'LOGIN_STATE_UNKNOWN'
  | 'REQUEST_TOKEN_AUTH_FAILED'
  | 'REQUEST_TOKEN_MALFORMED'
  | 'LOGIN_SECRET_KEY_INVALID'
  | 'LOGIN_EXCHANGE_REFUSED';

/** The one-time state is unknown, expired or already used: starting the login again fixes it. */
export class LoginStateError extends DomainError {
  override name = 'LoginStateError';
  constructor() {
    super('LOGIN_STATE_UNKNOWN', 'Unknown, expired or already used state: start the login again with GET /sharekhan/users/:userId/login-url');
  }
}

/**
 * The request token in ShareKhan's redirect cannot be used. A failed GCM tag almost always means
 * the secret key is not the one ShareKhan sealed it with, which retrying never fixes.
 */
export class RequestTokenRejectedError extends DomainError {
  override name = 'RequestTokenRejectedError';
  declare readonly code: LoginFailureCode;
  constructor(cause: RequestTokenErrorCode, detail: string, nameOf: SettingNamer) {
    const code = cause === 'TOKEN_AUTH_FAILED' ? 'REQUEST_TOKEN_AUTH_FAILED' : 'REQUEST_TOKEN_MALFORMED';
    const message =
      code === 'REQUEST_TOKEN_AUTH_FAILED'
        ? `request_token rejected: ${detail}. Most likely ${nameOf('secretKey')} is not the secret key ShareKhan issued with ${nameOf('apiKey')} (or the redirect was altered on the way): check it and restart, then log in again; retrying with the same secret key fails the same way. Nothing was stored.`
        : `request_token rejected: ${detail}. It was damaged or cut short on its way back from ShareKhan: start the login again. Nothing was stored.`;
    super(code, message);
  }
}

/** The secret key is set but unusable (not 32 bytes): the operator has to fix the configuration. */
export class LoginSecretKeyError extends DomainError {
  override name = 'LoginSecretKeyError';
  constructor(nameOf: SettingNamer) {
    super(
      'LOGIN_SECRET_KEY_INVALID',
      `ShareKhan login is misconfigured: ${nameOf('secretKey')} is not a usable secret key (exactly 32 bytes, as ShareKhan issued it); fix it and restart. Nothing was stored.`,
    );
  }
}

/** ShareKhan refused to exchange the request token (used already, expired on its side): log in again. */
export class LoginExchangeRefusedError extends DomainError {
  override name = 'LoginExchangeRefusedError';
  constructor(brokerMessage: string | undefined) {
    super('LOGIN_EXCHANGE_REFUSED', `ShareKhan refused to exchange the request token: ${brokerMessage ?? 'bad request'}. Start the login again.`);
  }
}

/** Redis cannot say whether the one-time state exists: it cannot be trusted, nor refused for good. */
export class LoginStateUnavailableError extends DomainError {
  override name = 'LoginStateUnavailableError';
  constructor() {
    super('LOGIN_STATE_UNAVAILABLE', 'Cannot check the login state right now (Redis unreachable); start the login again');
  }
}

/**
 * A broker call of the login or the validation failed: keeps the broker error's code (so the
 * edge answers a timeout as a timeout) with a sentence naming what was being done.
 */
export class BrokerCallFailedError extends DomainError {
  override name = 'BrokerCallFailedError';
  constructor(err: BrokerError, what: string) {
    super(err.code, brokerSentence(err, what), { cause: err });
  }
}

function brokerSentence(err: BrokerError, what: string): string {
  if (err instanceof BrokerBadRequestError) return `ShareKhan refused to ${what}: ${err.brokerMessage ?? 'bad request'}. Start the login again.`;
  if (err instanceof BrokerAuthError) return `ShareKhan refused this app's credentials while trying to ${what}`;
  if (err instanceof BrokerRateLimitError) return `ShareKhan is rate limiting us; retry to ${what} later`;
  if (err instanceof BrokerTimeoutError) return `ShareKhan did not answer in time while trying to ${what}`;
  return `ShareKhan could not ${what}: ${err.message}`;
}
