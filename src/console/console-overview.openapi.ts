import type { SchemaObject } from '@nestjs/swagger';
import { CACHE_MODE, bool, list, nullable, obj, oneOf, str, time } from '../common/openapi-schema.js';

/** One audit event, as GET /sharekhan/users/{userId}/audit lists them. */
const AUDIT_EVENT: SchemaObject = obj({
  at: time(),
  userId: str(),
  action: str(undefined, { example: 'submitted' }),
  who: str('API key name, login-callback, ...'),
  source: str(),
  clientAddress: nullable(str()),
  fingerprint: nullable(str()),
  detail: nullable(str()),
});

/** The console's overview answer (OpenAPI only). */
export const CONSOLE_OVERVIEW: SchemaObject = obj({
  caller: obj({ name: str('The API key name'), admin: bool(), userId: nullable(str('The user a user-scoped key may act on; null for admin')) }),
  cache: obj({
    mode: CACHE_MODE,
    level: oneOf(['ok', 'warning'], 'warning: the console shows a banner'),
    message: str('What the mode means for trading'),
  }),
  cutoff: obj({ ist: str('The daily cut-off, HH:MM IST', { example: '06:00' }), nextAt: time() }),
  users: list(
    obj({
      userId: str(undefined, { example: 'PAPER_TRADER_001' }),
      mode: oneOf(['paper', 'live']),
      stored: oneOf(['active', 'expired', 'invalid', 'revoked', 'missing', 'unknown'], "The stored token's state (unknown: Redis unreachable and not in memory)"),
      lastEvent: nullable(AUDIT_EVENT),
    }),
    'The trading users the key may see: all for an admin key, its own for a user key',
  ),
});
