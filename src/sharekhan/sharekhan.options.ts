import { randomBytes } from 'node:crypto';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { parseModuleOptions } from '../common/module-options.js';
import { settingNamer, settingNamesSchema, type SettingNamer } from '../common/setting-names.js';
import { USER_ID_PATTERN } from '../common/user-id.js';

const KEY_ID = /^[A-Za-z0-9_.-]{1,32}$/;
const HH_MM = /^([01]\d|2[0-3]):([0-5]\d)$/;

const key32 = z.string().refine((v) => /^[A-Za-z0-9+/]+={0,2}$/.test(v) && Buffer.from(v, 'base64').length === 32, {
  error: 'base64 of exactly 32 random bytes (openssl rand -base64 32)',
});
const httpUrl = z.url({ error: 'an absolute http(s) URL' }).refine((u) => /^https?:\/\//.test(u), { error: 'an absolute http(s) URL' });

/** Options of `ShareKhanAuthModule.forRoot()`; every field but `encryption` in production has a default. */
export const shareKhanOptionsSchema = z
  .object({
    /** Token encryption key ring. Unset: a throwaway key (tokens die with the process; a warning says so). */
    encryption: z
      .object({
        keys: z
          .array(z.object({ id: z.string().regex(KEY_ID, { error: 'a key id of 1-32 characters A-Z a-z 0-9 _ . -' }), keyBase64: key32 }))
          .min(1, { error: 'at least one key' })
          .superRefine((keys, ctx) => {
            keys.forEach((k, i) => {
              // An id that is not an id may be a key pasted in the wrong place: never echoed.
              if (keys.findIndex((o) => o.id === k.id) < i) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `a key id not used before${KEY_ID.test(k.id) ? ` (${k.id})` : ''}` });
            });
          }),
        /** The key new tokens are sealed with; defaults to the only key. */
        activeKeyId: z.string().optional(),
      })
      .optional(),
    apiBaseUrl: httpUrl.default('https://api.sharekhan.com/skapi/services'),
    loginUrl: httpUrl.default('https://api.sharekhan.com/skapi/auth/login.html'),
    apiKey: z.string().min(1).nullable().default(null),
    secretKey: z
      .string()
      .refine((v) => Buffer.byteLength(v, 'utf8') === 32, { error: 'exactly 32 bytes (UTF-8), as issued by ShareKhan' })
      .nullable()
      .default(null),
    vendorKey: z.string().min(1).nullable().default(null),
    versionId: z.enum(['1005', '1006'], { error: 'null, 1005 or 1006' }).nullable().default(null),
    redirectUrl: z.url({ error: 'an absolute URL' }).nullable().default(null),
    httpTimeoutMs: z.number().int().min(100).max(120_000).default(5_000),
    /** Daily expiry of every broker token, HH:MM in Asia/Kolkata. */
    cutoffIst: z.string().regex(HH_MM, { error: 'a time HH:MM (24 h, Asia/Kolkata), e.g. 06:00' }).default('06:00'),
    maxLifetimeMs: z.number().int().min(60_000).max(7 * 86_400_000).default(86_400_000),
    loginStateTtlMs: z.number().int().min(30_000).max(3_600_000).default(600_000),
    /**
     * How long a token that only this instance's memory vouches for (Redis unreachable) stays
     * usable for orders, counted from when Redis last confirmed it: the longest a revoke made on
     * another replica can go unseen by a cut-off one. Past it, lookups answer `unconfirmed`.
     */
    unconfirmedTokenUseMs: z.number().int().min(0).max(600_000).default(30_000),
    audit: z
      .object({
        maxEvents: z.number().int().min(10).max(10_000).default(200),
        ttlMs: z.number().int().min(3_600_000).max(90 * 86_400_000).default(72 * 3_600_000),
      })
      .prefault({}),
    /** Static tokens by exact user id (e.g. from `SHAREKHAN_ACCESS_TOKEN_<USER>`): used where the store has no record. */
    staticTokens: z
      .record(z.string().regex(USER_ID_PATTERN, { error: 'user ids of 1-64 characters A-Z, 0-9 or _' }), z.string().min(1))
      .default({}),
    /**
     * The users a token may be stored for, each with its ShareKhan customer id (a token for another
     * account is refused). Empty: the token service stands alone and accepts any valid user id.
     */
    accounts: z
      .array(
        z.object({
          userId: z.string().regex(USER_ID_PATTERN, { error: 'a user id of 1-64 characters A-Z, 0-9 or _' }),
          customerId: z.string().default(''),
        }),
      )
      .default([]),
    /** The app's Prometheus registry; without one the module keeps no metrics. */
    metricsRegistry: z.custom<Registry>((v) => typeof v === 'object' && v !== null && typeof (v as Registry).metrics === 'function').optional(),
    /** What messages call each option, e.g. `{ apiKey: 'SHAREKHAN_API_KEY' }`; unnamed options by their option name. */
    settingNames: settingNamesSchema,
  })
  .superRefine((o, ctx) => {
    const ids = (o.encryption?.keys ?? []).map((k) => k.id);
    const active = o.encryption?.activeKeyId;
    if (o.encryption && active === undefined && ids.length > 1) {
      ctx.addIssue({ code: 'custom', path: ['encryption', 'activeKeyId'], message: `the id of the key new tokens are sealed with, one of ${ids.join(', ')}` });
    } else if (active !== undefined && !ids.includes(active)) {
      ctx.addIssue({ code: 'custom', path: ['encryption', 'activeKeyId'], message: `one of the key ids: ${ids.join(', ')}` });
    }
  });

export type ShareKhanModuleOptions = z.input<typeof shareKhanOptionsSchema>;

export interface TokenKeySpec {
  id: string;
  /** base64 of exactly 32 bytes. */
  keyBase64: string;
}

/** The options after validation and defaults: what the module's services read. */
export interface ShareKhanSettings extends Omit<z.output<typeof shareKhanOptionsSchema>, 'encryption' | 'staticTokens'> {
  /** Minutes after midnight Asia/Kolkata. */
  cutoffMinutesIst: number;
  staticTokens: ReadonlyMap<string, string>;
  /** What to tell an operator to set for an option (`settingNames`, else the option's own name). */
  nameOf: SettingNamer;
  encryption: {
    keys: TokenKeySpec[];
    activeKeyId: string;
    /** True when no key was given and a throwaway one was made. */
    generated: boolean;
  };
}

export function resolveShareKhanOptions(input: ShareKhanModuleOptions | undefined): ShareKhanSettings {
  const o = parseModuleOptions('ShareKhanAuthModule', shareKhanOptionsSchema, input);
  const [h, m] = o.cutoffIst.split(':').map(Number);
  const generated = o.encryption === undefined;
  const keys = o.encryption?.keys ?? [{ id: 'ephemeral', keyBase64: randomBytes(32).toString('base64') }];
  return {
    ...o,
    cutoffMinutesIst: h * 60 + m,
    nameOf: settingNamer('ShareKhanAuthModule', o.settingNames),
    staticTokens: new Map(Object.entries(o.staticTokens).map(([u, t]) => [u, t.trim()])),
    encryption: { keys, activeKeyId: o.encryption?.activeKeyId ?? keys[0].id, generated },
  };
}

/** DI token of the resolved `ShareKhanSettings`: module-private (it holds keys, secrets and static tokens). */
export const SHAREKHAN_SETTINGS = Symbol('SHAREKHAN_SETTINGS');

/** What other modules may read of the ShareKhan settings: no key, no secret, no token. */
export interface ShareKhanPublicSettings {
  /** The daily cut-off, HH:MM Asia/Kolkata. */
  cutoffIst: string;
  /** The same, in minutes after midnight IST. */
  cutoffMinutesIst: number;
  loginUrl: string;
  apiBaseUrl: string;
  /** What to tell an operator to set for one of this module's options (e.g. SHAREKHAN_API_KEY). */
  nameOf: SettingNamer;
}

/** DI token of `ShareKhanPublicSettings`, exported by ShareKhanAuthModule (the full settings stay private to it). */
export const SHAREKHAN_PUBLIC_SETTINGS = Symbol('SHAREKHAN_PUBLIC_SETTINGS');

export function publicShareKhanSettings(s: ShareKhanSettings): ShareKhanPublicSettings {
  return { cutoffIst: s.cutoffIst, cutoffMinutesIst: s.cutoffMinutesIst, loginUrl: s.loginUrl, apiBaseUrl: s.apiBaseUrl, nameOf: s.nameOf };
}
