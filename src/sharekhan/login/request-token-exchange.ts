import { DomainError } from '../../common/domain-error.js';
import {
  decodeStrict,
  encodeSealed,
  gcmOpen,
  gcmSeal,
  secretKeyBytes,
  tokenEncoding,
  usesVersionId,
  type TokenEncoding,
} from './sharekhan-aes.js';

export { ShareKhanSecretKeyError } from './sharekhan-aes.js';

export interface VersionOptions {
  /** ShareKhan `version_id` (1005, 1006, or empty). Non-empty switches to base64url. */
  versionId?: string | null;
}

export interface RequestTokenExchange {
  /** Goes into POST /access/token as `requestToken`. */
  exchangeValue: string;
  requestId: string;
  /** The broker account the login belongs to; keep it with the access token. */
  customerId: string;
}

export type RequestTokenErrorCode =
  /** Not decodable: bad URL escape, wrong base64 alphabet/length, too short. */
  | 'MALFORMED_TOKEN'
  /** GCM tag did not verify: tampered, truncated, or made with another secret key. */
  | 'TOKEN_AUTH_FAILED'
  /** Decrypted, but not "<requestId>|<customerId>". */
  | 'MALFORMED_PLAINTEXT';

/**
 * A request token (or exchange value) that cannot be used (the login answers it
 * as RequestTokenRejectedError). Messages describe the problem only: never the token, key or plaintext.
 * A badly configured secret key is a different error (ShareKhanSecretKeyError),
 * because that is our fault, not the caller's.
 */
export class RequestTokenError extends DomainError {
  override readonly name = 'RequestTokenError';
  constructor(
    override readonly code: RequestTokenErrorCode,
    message: string,
  ) {
    super(code, message);
  }
}

const SEPARATOR = '|';

export function exchangeRequestToken(
  requestToken: string,
  secretKey: string,
  opts: VersionOptions = {},
): RequestTokenExchange {
  const key = secretKeyBytes(secretKey);
  const encoding = tokenEncoding(opts.versionId);
  const sealed = decodeTransported(requestToken, encoding, 'request token');
  const { requestId, customerId } = parsePlaintext(
    openOrThrow(sealed, key, 'request token'),
  );
  const swapped = Buffer.from(`${customerId}${SEPARATOR}${requestId}`, 'utf8');
  return {
    exchangeValue: encodeSealed(gcmSeal(swapped, key), encoding),
    requestId,
    customerId,
  };
}

/** Decrypts and checks a request token without building the exchange value. */
export function decryptRequestToken(
  requestToken: string,
  secretKey: string,
  opts: VersionOptions = {},
): { requestId: string; customerId: string } {
  const key = secretKeyBytes(secretKey);
  const sealed = decodeTransported(
    requestToken,
    tokenEncoding(opts.versionId),
    'request token',
  );
  return parsePlaintext(openOrThrow(sealed, key, 'request token'));
}

/**
 * What ShareKhan does on its side: seal a plaintext into a request token.
 * Used by the fake server and tests; the plaintext is not validated on purpose
 * so tests can forge malformed ones.
 */
export function makeRequestToken(
  plaintext: string,
  secretKey: string,
  opts: VersionOptions = {},
): string {
  const key = secretKeyBytes(secretKey);
  return encodeSealed(
    gcmSeal(Buffer.from(plaintext, 'utf8'), key),
    tokenEncoding(opts.versionId),
  );
}

/**
 * What ShareKhan does with POST /access/token: open an exchange value and return
 * its plaintext ("<customerId>|<requestId>"). The value travels in a JSON body,
 * so no URL-decoding or space repair is applied.
 */
export function decodeExchangeValue(
  value: string,
  secretKey: string,
  opts: VersionOptions = {},
): string {
  const key = secretKeyBytes(secretKey);
  const encoding = tokenEncoding(opts.versionId);
  if (typeof value !== 'string' || value.length === 0) {
    throw new RequestTokenError('MALFORMED_TOKEN', 'exchange value is empty');
  }
  const sealed = decodeStrict(value, encoding);
  if (!sealed) {
    throw new RequestTokenError(
      'MALFORMED_TOKEN',
      `exchange value is not valid ${describe(encoding)}`,
    );
  }
  return decodeUtf8(
    openOrThrow(sealed, key, 'exchange value'),
    'exchange value',
  );
}

function decodeTransported(
  token: string,
  encoding: TokenEncoding,
  what: string,
): Buffer {
  if (typeof token !== 'string' || token.length === 0) {
    throw new RequestTokenError('MALFORMED_TOKEN', `${what} is empty`);
  }
  let text: string;
  try {
    text = decodeURIComponent(token);
  } catch {
    throw new RequestTokenError(
      'MALFORMED_TOKEN',
      `${what} contains an invalid URL escape sequence`,
    );
  }
  // Query-string parsing turns an unescaped '+' into a space; base64url has no
  // '+', so the repair only applies to standard base64.
  if (encoding === 'base64') text = text.replace(/ /g, '+');
  const sealed = decodeStrict(text, encoding);
  if (!sealed) {
    throw new RequestTokenError(
      'MALFORMED_TOKEN',
      `${what} is not valid ${describe(encoding)}`,
    );
  }
  return sealed;
}

function openOrThrow(sealed: Buffer, key: Buffer, what: string): Buffer {
  const plaintext = gcmOpen(sealed, key);
  if (!plaintext) {
    throw new RequestTokenError(
      'TOKEN_AUTH_FAILED',
      `${what} failed authentication: it was altered, truncated, or not issued for this app's secret key`,
    );
  }
  return plaintext;
}

function parsePlaintext(plaintext: Buffer): {
  requestId: string;
  customerId: string;
} {
  const text = decodeUtf8(plaintext, 'request token');
  const parts = text.split(SEPARATOR);
  if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
    throw new RequestTokenError(
      'MALFORMED_PLAINTEXT',
      'request token content is not "<requestId>|<customerId>" (expected exactly one "|" between two non-empty parts)',
    );
  }
  return { requestId: parts[0], customerId: parts[1] };
}

function decodeUtf8(bytes: Buffer, what: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new RequestTokenError(
      'MALFORMED_PLAINTEXT',
      `${what} content is not valid UTF-8`,
    );
  }
}

function describe(encoding: TokenEncoding): string {
  return encoding === 'base64url'
    ? 'base64url (expected because a version id is configured)'
    : 'standard base64 (expected because no version id is configured)';
}

export { usesVersionId };
