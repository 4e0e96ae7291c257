import { z } from 'zod';
import { MIN_API_KEY_SECRET_LENGTH, scopeProblem, type AuthModuleOptions } from '../auth/index.js';
import { defineSection } from './config-section.js';
import { intVar, optionalString } from './env-types.js';

type ApiKeyOption = NonNullable<AuthModuleOptions['apiKeys']>[number];

const KEY_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
/** Requests per API key are counted per minute: `API_RATE_LIMIT` is the one knob. */
const RATE_LIMIT_WINDOW_MS = 60_000;

/**
 * `name:scope:secret` entries. Returns the problems instead of throwing; they name an entry by
 * position and name only, so a typo never prints a secret into a start-up log.
 */
export function parseApiKeys(raw: string | undefined): { entries: ApiKeyOption[]; problems: string[] } {
  const problems: string[] = [];
  const entries: ApiKeyOption[] = [];
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
    const badScope = scopeProblem(scope);
    if (badScope) {
      problems.push(`${where} (${name}) to have ${badScope}`);
      return;
    }
    if (secret.length < MIN_API_KEY_SECRET_LENGTH) {
      problems.push(`${where} (${name}) to have a secret of at least ${MIN_API_KEY_SECRET_LENGTH} characters`);
      return;
    }
    if (entries.some((e) => e.name === name)) problems.push(`${where} to have a name not used before (${name})`);
    else if (entries.some((e) => e.secret === secret)) problems.push(`${where} (${name}) to have its own secret`);
    else entries.push({ name, scope, secret });
  });
  return { entries, problems };
}

const apiKeysVar = () =>
  optionalString().transform((raw, ctx) => {
    const { entries, problems } = parseApiKeys(raw);
    for (const message of problems) ctx.addIssue({ code: 'custom', message });
    return entries;
  });

/** Environment variables of the auth module: API keys and the per-key request budget. */
export const authSection = defineSection({
  schema: z.object({
    API_KEYS: apiKeysVar(),
    API_RATE_LIMIT: intVar(60, 1, 1_000_000),
  }),
  secrets: ['API_KEYS'],
  build: (e): AuthModuleOptions => ({
    apiKeys: e.API_KEYS,
    rateLimit: { limit: e.API_RATE_LIMIT, windowMs: RATE_LIMIT_WINDOW_MS },
  }),
});
