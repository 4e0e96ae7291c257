import { z } from 'zod';
import { USER_ID_PATTERN } from '../common/user-id.js';
import { defineSection } from './config-section.js';
import { intVar, optionalString } from './env-types.js';

export type ApiKeyScope = { kind: 'admin' } | { kind: 'user'; userId: string };

export interface ApiKeyEntry {
  /** Shown in audit events and logs as "who"; never the secret. */
  name: string;
  scope: ApiKeyScope;
  secret: string;
}

export interface AuthSettings {
  apiKeys: ApiKeyEntry[];
  rateLimit: { limit: number; windowMs: number };
}

const KEY_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const MIN_SECRET_LENGTH = 16;

/**
 * `name:scope:secret` entries. Returns the problems instead of throwing; they name an entry by
 * position and name only, so a typo never prints a secret into a start-up log.
 */
export function parseApiKeys(raw: string | undefined): { entries: ApiKeyEntry[]; problems: string[] } {
  const problems: string[] = [];
  const entries: ApiKeyEntry[] = [];
  if (raw === undefined) return { entries, problems };
  const parts = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  parts.forEach((part, i) => {
    const first = part.indexOf(':');
    const second = first < 0 ? -1 : part.indexOf(':', first + 1);
    const where = `entry ${i + 1}`;
    if (first < 0 || second < 0) {
      problems.push(`${where} to be name:scope:secret`);
      return;
    }
    const name = part.slice(0, first);
    const scope = part.slice(first + 1, second);
    const secret = part.slice(second + 1);
    if (!KEY_NAME.test(name)) {
      problems.push(`${where} to have a name of 1-64 characters A-Z a-z 0-9 _ . -`);
      return;
    }
    if (scope !== 'admin' && !USER_ID_PATTERN.test(scope)) {
      problems.push(`${where} (${name}) to have scope admin or a user id like PAPER_TRADER_001`);
      return;
    }
    if (secret.length < MIN_SECRET_LENGTH) {
      problems.push(`${where} (${name}) to have a secret of at least ${MIN_SECRET_LENGTH} characters`);
      return;
    }
    if (entries.some((e) => e.name === name)) problems.push(`${where} to have a name not used before (${name})`);
    else if (entries.some((e) => e.secret === secret)) problems.push(`${where} (${name}) to have its own secret`);
    else entries.push({ name, scope: scope === 'admin' ? { kind: 'admin' } : { kind: 'user', userId: scope }, secret });
  });
  return { entries, problems };
}

const apiKeysVar = () =>
  optionalString().transform((raw, ctx) => {
    const { entries, problems } = parseApiKeys(raw);
    for (const message of problems) ctx.addIssue({ code: 'custom', message });
    return entries;
  });

/** Environment variables of the auth module: API keys and the rate limit of the token endpoints. */
export const authSection = defineSection({
  schema: z.object({
    API_KEYS: apiKeysVar(),
    API_RATE_LIMIT: intVar(60, 1, 1_000_000),
    API_RATE_LIMIT_WINDOW_SECONDS: intVar(60, 1, 86_400),
  }),
  secrets: ['API_KEYS'],
  build: (e): AuthSettings => ({
    apiKeys: e.API_KEYS,
    rateLimit: { limit: e.API_RATE_LIMIT, windowMs: e.API_RATE_LIMIT_WINDOW_SECONDS * 1000 },
  }),
});
