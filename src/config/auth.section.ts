import { z } from 'zod';
import { authOptionsSchema, type AuthModuleOptions } from '../auth/index.js';
import { defineSection } from './config-section.js';
import { entryProblems, splitEntries } from './entry-problems.js';
import { intVar, optionalString } from './env-types.js';

type ApiKeyOption = NonNullable<AuthModuleOptions['apiKeys']>[number];

/** Requests per API key are counted per minute: `API_RATE_LIMIT` is the one knob. */
const RATE_LIMIT_WINDOW_MS = 60_000;

/**
 * `name:scope:secret` entries, split at the first two colons (a secret may hold more). Only the
 * syntax is checked here; what a valid key is, AuthModule's options schema says. Problems name an
 * entry by position and name only, so a typo never prints a secret into a start-up log.
 */
export function parseApiKeys(raw: string | undefined): { entries: ApiKeyOption[]; problems: string[] } {
  const entries: ApiKeyOption[] = [];
  const positions: number[] = [];
  const problems: string[] = [];
  splitEntries(raw).forEach((part, i) => {
    const first = part.indexOf(':');
    const second = first < 0 ? -1 : part.indexOf(':', first + 1);
    if (second < 0) return problems.push(`entry ${i + 1} to be name:scope:secret`);
    entries.push({ name: part.slice(0, first), scope: part.slice(first + 1, second), secret: part.slice(second + 1) });
    positions.push(i + 1);
  });
  const wording = { listPath: ['apiKeys'], labelField: 'name', secretField: 'secret', verb: () => 'to have', positions };
  problems.push(...entryProblems(authOptionsSchema, { apiKeys: entries }, wording));
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
