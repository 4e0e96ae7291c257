import {
  BadRequestException,
  ServiceUnavailableException,
} from '@nestjs/common';
import type { SettingNamer } from '../../common/setting-names.js';
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
export class LoginStateError extends BadRequestException {
  readonly code = 'LOGIN_STATE_UNKNOWN';
  constructor() {
    super({
      statusCode: 400,
      error: 'Bad Request',
      code: 'LOGIN_STATE_UNKNOWN',
      message:
        'Unknown, expired or already used state: start the login again with GET /sharekhan/users/:userId/login-url',
    });
  }
}

/**
 * The request token in ShareKhan's redirect cannot be used. A failed GCM tag almost always means
 * the secret key is not the one ShareKhan sealed it with, which retrying never fixes.
 */
export class RequestTokenRejectedError extends BadRequestException {
  readonly code: LoginFailureCode;
  constructor(
    cause: RequestTokenErrorCode,
    detail: string,
    nameOf: SettingNamer,
  ) {
    const code =
      cause === 'TOKEN_AUTH_FAILED'
        ? 'REQUEST_TOKEN_AUTH_FAILED'
        : 'REQUEST_TOKEN_MALFORMED';
    const message =
      code === 'REQUEST_TOKEN_AUTH_FAILED'
        ? `request_token rejected: ${detail}. Most likely ${nameOf('secretKey')} is not the secret key ShareKhan issued with ${nameOf('apiKey')} (or the redirect was altered on the way): check it and restart, then log in again; retrying with the same secret key fails the same way. Nothing was stored.`
        : `request_token rejected: ${detail}. It was damaged or cut short on its way back from ShareKhan: start the login again. Nothing was stored.`;
    super({ statusCode: 400, error: 'Bad Request', code, message });
    this.code = code;
  }
}

/** The secret key is set but unusable (not 32 bytes): the operator has to fix the configuration. */
export class LoginSecretKeyError extends ServiceUnavailableException {
  readonly code = 'LOGIN_SECRET_KEY_INVALID';
  constructor(nameOf: SettingNamer) {
    super({
      statusCode: 503,
      error: 'Service Unavailable',
      code: 'LOGIN_SECRET_KEY_INVALID',
      message: `ShareKhan login is misconfigured: ${nameOf('secretKey')} is not a usable secret key (exactly 32 bytes, as ShareKhan issued it); fix it and restart. Nothing was stored.`,
    });
  }
}

/** ShareKhan refused to exchange the request token (used already, expired on its side): log in again. */
export class LoginExchangeRefusedError extends BadRequestException {
  readonly code = 'LOGIN_EXCHANGE_REFUSED';
  constructor(brokerMessage: string | undefined) {
    super({
      statusCode: 400,
      error: 'Bad Request',
      code: 'LOGIN_EXCHANGE_REFUSED',
      message: `ShareKhan refused to exchange the request token: ${brokerMessage ?? 'bad request'}. Start the login again.`,
    });
  }
}
