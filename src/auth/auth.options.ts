import { z } from 'zod';
import { parseModuleOptions } from '../common/module-options.js';
import { USER_ID_PATTERN } from '../common/user-id.js';

export type ApiKeyScope = { kind: 'admin' } | { kind: 'user'; userId: string };

const KEY_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
export const MIN_API_KEY_SECRET_LENGTH = 16;

/**
 * A key's scope: exactly `admin`, or one user id. Any other spelling of admin (`ADMIN`, `Admin`)
 * is refused rather than guessed: read as admin it would widen a key, read as a user id it would
 * silently make a key for a user called ADMIN.
 */
export function scopeProblem(scope: string): string | null {
  if (scope === 'admin') return null;
  if (scope.toLowerCase() === 'admin') return `scope admin in lower case (${scope} is neither admin nor allowed as a user id)`;
  if (!USER_ID_PATTERN.test(scope)) return 'scope admin or a user id like PAPER_TRADER_001';
  return null;
}

const apiKeySchema = z.object({
  /** Shown in audit events and logs as "who"; never the secret. */
  name: z.string().regex(KEY_NAME, { error: 'a name of 1-64 characters A-Z a-z 0-9 _ . -' }),
  /** `admin`, or the one user id the key may act on. */
  scope: z.string().superRefine((s, ctx) => {
    const problem = scopeProblem(s);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
  secret: z.string().min(MIN_API_KEY_SECRET_LENGTH, { error: `a secret of at least ${MIN_API_KEY_SECRET_LENGTH} characters` }),
});

/** Options of `AuthModule.forRoot()`: the API keys and one request budget per key. */
export const authOptionsSchema = z.object({
  apiKeys: z
    .array(apiKeySchema)
    .default([])
    .superRefine((keys, ctx) => {
      const names = new Set<string>();
      const secrets = new Set<string>();
      keys.forEach((k, i) => {
        // No name in the message: fields in the wrong order would make it a secret (the path says which entry).
        if (names.has(k.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: 'a name not used before' });
        if (secrets.has(k.secret)) ctx.addIssue({ code: 'custom', path: [i, 'secret'], message: 'its own secret' });
        names.add(k.name);
        secrets.add(k.secret);
      });
    }),
  rateLimit: z
    .object({
      /** Requests per window per API key, across every route and every instance; unauthenticated requests per client address. */
      limit: z.number().int().min(1).max(1_000_000).default(60),
      windowMs: z.number().int().min(1_000).max(86_400_000).default(60_000),
      /** IPv6 clients are counted per network of this prefix length (one /64 is usually one client). */
      ipv6SubnetPrefix: z.number().int().min(1).max(128).default(64),
    })
    .prefault({}),
});

export type AuthModuleOptions = z.input<typeof authOptionsSchema>;

export interface ApiKeyEntry {
  name: string;
  scope: ApiKeyScope;
  secret: string;
}

export interface AuthSettings {
  apiKeys: ApiKeyEntry[];
  rateLimit: { limit: number; windowMs: number; ipv6SubnetPrefix: number };
}

export function resolveAuthOptions(input: AuthModuleOptions | undefined): AuthSettings {
  const o = parseModuleOptions('AuthModule', authOptionsSchema, input);
  return {
    apiKeys: o.apiKeys.map((k) => ({
      name: k.name,
      secret: k.secret,
      scope: k.scope === 'admin' ? { kind: 'admin' } : { kind: 'user', userId: k.scope },
    })),
    rateLimit: o.rateLimit,
  };
}

/** DI token of the resolved `AuthSettings`. */
export const AUTH_SETTINGS = Symbol('AUTH_SETTINGS');
