import type { SchemaObject } from '@nestjs/swagger';
import { CACHE_MODE, bool, int, list, nullable, obj, oneOf, str, time } from '../../common/openapi-schema.js';

/** Response schemas and request examples of the token endpoints (OpenAPI only). */

export const TOKEN_VIEW: SchemaObject = obj({
  userId: str(),
  status: oneOf(['active', 'expired', 'invalid', 'revoked']),
  customerId: nullable(str()),
  loginId: nullable(str()),
  mask: str('The token with all but a few characters hidden', { example: 'eyJh…Xk9Q' }),
  fingerprint: str('Short hash to tell tokens apart without showing them', { example: 'a3f9c2d14b7e' }),
  issuedAt: time(),
  expiresAt: time('The IST cut-off of the trading day'),
  secondsLeft: int(),
  tradingDay: str(undefined, { example: '2026-11-30' }),
  source: oneOf(['manual', 'login', 'env']),
  submittedBy: str('API key name (or the login flow) that stored it'),
  version: str(),
  lastValidatedAt: nullable(time()),
  statusReason: nullable(str('Why the token is not usable (revoked by whom and when, refused by ShareKhan, ...)')),
});

const viewProps = TOKEN_VIEW.properties as Record<string, SchemaObject>;

export const TOKEN_STORED: SchemaObject = obj({
  present: bool(),
  usable: bool('True when the status is active'),
  ...viewProps,
  storedIn: oneOf(['redis', 'memory'], 'memory: Redis was unreachable; the write is journaled and replayed'),
  cacheMode: CACHE_MODE,
});

export const TOKEN_STATUS: SchemaObject = {
  ...obj(
    { userId: str(), present: nullable(bool('null when it cannot be told (Redis unreachable)')), usable: bool(), status: oneOf(['active', 'expired', 'invalid', 'revoked', 'missing', 'unknown']), reason: nullable(str()), ...viewProps, cacheMode: CACHE_MODE },
    [...Object.keys(viewProps).filter((k) => k !== 'userId' && k !== 'status'), 'reason', 'cacheMode'],
  ),
  description: 'present: false (status missing) or null (status unknown) carries only userId, present, usable, status and reason',
};

export const TOKEN_REVOKED: SchemaObject = obj({
  userId: str(),
  revoked: bool('False when nothing changed (already revoked, or no token)'),
  status: oneOf(['revoked', 'missing']),
  alreadyRevoked: bool(),
  message: str(),
  token: nullable(TOKEN_VIEW),
  cacheMode: CACHE_MODE,
});

export const TOKEN_VALIDATION: SchemaObject = obj(
  { userId: str(), valid: bool(), reason: str('Why not, when valid is false'), token: nullable(TOKEN_VIEW), cacheMode: CACHE_MODE },
  ['reason'],
);

export const AUDIT_TRAIL: SchemaObject = obj({
  userId: str(),
  count: int(),
  complete: bool('False when Redis was unreachable and only memory was read'),
  events: list(
    obj({
      at: time(),
      userId: str(),
      action: str(undefined, { example: 'token.submitted' }),
      who: str(),
      source: str(),
      clientAddress: nullable(str()),
      fingerprint: nullable(str()),
      detail: nullable(str()),
    }),
  ),
});

export const LOGIN_URL: SchemaObject = obj({
  userId: str(),
  loginUrl: str('Open this in the browser', { format: 'uri' }),
  state: str('One-time, bound to the user; ShareKhan hands it back to the callback'),
  expiresAt: time(),
  redirectUrl: nullable(str()),
});

export const TOKEN_LIST: SchemaObject = obj({
  count: int(),
  complete: bool(),
  cacheMode: CACHE_MODE,
  users: list(TOKEN_STATUS),
});

export const SUBMIT_TOKEN_EXAMPLE = {
  accessToken: 'eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJjdXN0b21lcklkIjoiQzEwMCJ9.pVt3Xk9Q',
  customerId: 'C100',
  loginId: 'LOGIN100',
};
