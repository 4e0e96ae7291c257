import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { defineSection } from './config-section.js';
import { intVar, optionalString } from './env-types.js';

export interface TokenKeySpec {
  id: string;
  /** base64 of exactly 32 bytes. */
  keyBase64: string;
}

export interface ShareKhanSettings {
  apiBaseUrl: string;
  loginUrl: string;
  apiKey: string | null;
  secretKey: string | null;
  vendorKey: string | null;
  versionId: string | null;
  redirectUrl: string | null;
  httpTimeoutMs: number;
  /** Daily expiry of every broker token, minutes after midnight Asia/Kolkata. */
  cutoffMinutesIst: number;
  maxLifetimeMs: number;
  loginStateTtlMs: number;
  audit: { maxEvents: number; ttlMs: number };
  encryption: {
    keys: TokenKeySpec[];
    activeKeyId: string;
    /** True when no key was configured and a throwaway one was made (never in production). */
    generated: boolean;
  };
}

const KEY_ID = /^[A-Za-z0-9_.-]{1,32}$/;

/** Problems name the entry by position and id only: a key never reaches a log. */
export function parseTokenKeys(raw: string | undefined): { keys: TokenKeySpec[]; problems: string[] } {
  const keys: TokenKeySpec[] = [];
  const problems: string[] = [];
  if (raw === undefined) return { keys, problems };
  raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .forEach((part, i) => {
      const at = part.indexOf(':');
      const id = at < 0 ? '' : part.slice(0, at);
      const b64 = at < 0 ? '' : part.slice(at + 1);
      if (!KEY_ID.test(id)) {
        problems.push(`entry ${i + 1} to be keyId:base64 with a key id of 1-32 characters A-Z a-z 0-9 _ . -`);
        return;
      }
      const bytes = /^[A-Za-z0-9+/]+={0,2}$/.test(b64) ? Buffer.from(b64, 'base64') : Buffer.alloc(0);
      if (bytes.length !== 32) {
        problems.push(`entry ${i + 1} (${id}) to be base64 of exactly 32 random bytes (openssl rand -base64 32)`);
        return;
      }
      if (keys.some((k) => k.id === id)) problems.push(`entry ${i + 1} to use a key id not used before (${id})`);
      else keys.push({ id, keyBase64: bytes.toString('base64') });
    });
  return { keys, problems };
}

const httpUrl = (def: string) =>
  optionalString().pipe(
    z
      .string()
      .url({ error: 'an absolute http(s) URL' })
      .refine((u) => /^https?:\/\//.test(u), { error: 'an absolute http(s) URL' })
      .default(def),
  );

const schema = z
  .object({
    NODE_ENV: optionalString(),
    SHAREKHAN_API_BASE_URL: httpUrl('https://api.sharekhan.com/skapi/services'),
    SHAREKHAN_LOGIN_URL: httpUrl('https://api.sharekhan.com/skapi/auth/login.html'),
    SHAREKHAN_API_KEY: optionalString(),
    SHAREKHAN_SECRET_KEY: optionalString().refine((v) => v === undefined || Buffer.byteLength(v, 'utf8') === 32, {
      error: 'exactly 32 bytes (UTF-8), as issued by ShareKhan',
    }),
    SHAREKHAN_VENDOR_KEY: optionalString(),
    SHAREKHAN_VERSION_ID: optionalString().pipe(
      z.enum(['1005', '1006'], { error: 'empty, 1005 or 1006' }).optional(),
    ),
    SHAREKHAN_REDIRECT_URL: optionalString().pipe(z.string().url({ error: 'an absolute URL' }).optional()),
    SHAREKHAN_HTTP_TIMEOUT_MS: intVar(5_000, 100, 120_000),
    SHAREKHAN_TOKEN_CUTOFF_IST: optionalString().pipe(
      z
        .string()
        .regex(/^([01]\d|2[0-3]):[0-5]\d$/, { error: 'a time HH:MM (24 h, Asia/Kolkata), e.g. 06:00' })
        .default('06:00'),
    ),
    SHAREKHAN_TOKEN_MAX_LIFETIME_HOURS: intVar(24, 1, 24 * 7),
    SHAREKHAN_LOGIN_STATE_TTL_SECONDS: intVar(600, 30, 3_600),
    SHAREKHAN_AUDIT_MAX_EVENTS: intVar(200, 10, 10_000),
    SHAREKHAN_AUDIT_TTL_HOURS: intVar(72, 1, 24 * 90),
    TOKEN_ENCRYPTION_KEYS: optionalString(),
    TOKEN_ENCRYPTION_ACTIVE_KEY_ID: optionalString(),
  })
  .superRefine((e, ctx) => {
    const { keys, problems } = parseTokenKeys(e.TOKEN_ENCRYPTION_KEYS);
    for (const message of problems) ctx.addIssue({ code: 'custom', path: ['TOKEN_ENCRYPTION_KEYS'], message });
    if (problems.length > 0) return;
    if (keys.length === 0) {
      if (e.NODE_ENV === 'production') {
        ctx.addIssue({
          code: 'custom',
          path: ['TOKEN_ENCRYPTION_KEYS'],
          message: 'at least one keyId:base64-of-32-bytes key in production (tokens are encrypted at rest with it)',
        });
      }
      if (e.TOKEN_ENCRYPTION_ACTIVE_KEY_ID !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['TOKEN_ENCRYPTION_ACTIVE_KEY_ID'], message: 'unset while TOKEN_ENCRYPTION_KEYS is empty' });
      }
      return;
    }
    const active = e.TOKEN_ENCRYPTION_ACTIVE_KEY_ID;
    if (active === undefined && keys.length > 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['TOKEN_ENCRYPTION_ACTIVE_KEY_ID'],
        message: `the id of the key new tokens are encrypted with, one of ${keys.map((k) => k.id).join(', ')}`,
      });
    } else if (active !== undefined && !keys.some((k) => k.id === active)) {
      ctx.addIssue({
        code: 'custom',
        path: ['TOKEN_ENCRYPTION_ACTIVE_KEY_ID'],
        message: `one of the ids in TOKEN_ENCRYPTION_KEYS: ${keys.map((k) => k.id).join(', ')}`,
      });
    }
  });

function cutoffMinutes(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return h * 60 + m;
}

/** Environment variables of the ShareKhan module: broker endpoints and credentials, token lifetime and encryption. */
export const sharekhanSection = defineSection({
  schema: schema as unknown as z.ZodObject<z.ZodRawShape>,
  secrets: ['SHAREKHAN_API_KEY', 'SHAREKHAN_SECRET_KEY', 'SHAREKHAN_VENDOR_KEY', 'TOKEN_ENCRYPTION_KEYS'],
  build: (raw): ShareKhanSettings => {
    const e = raw as z.infer<typeof schema>;
    let { keys } = parseTokenKeys(e.TOKEN_ENCRYPTION_KEYS);
    let activeKeyId = e.TOKEN_ENCRYPTION_ACTIVE_KEY_ID ?? keys[0]?.id;
    const generated = keys.length === 0;
    if (generated) {
      // Outside production only (the schema refuses production): tokens die with the process.
      keys = [{ id: 'ephemeral', keyBase64: randomBytes(32).toString('base64') }];
      activeKeyId = 'ephemeral';
    }
    return {
      apiBaseUrl: e.SHAREKHAN_API_BASE_URL,
      loginUrl: e.SHAREKHAN_LOGIN_URL,
      apiKey: e.SHAREKHAN_API_KEY ?? null,
      secretKey: e.SHAREKHAN_SECRET_KEY ?? null,
      vendorKey: e.SHAREKHAN_VENDOR_KEY ?? null,
      versionId: e.SHAREKHAN_VERSION_ID ?? null,
      redirectUrl: e.SHAREKHAN_REDIRECT_URL ?? null,
      httpTimeoutMs: e.SHAREKHAN_HTTP_TIMEOUT_MS,
      cutoffMinutesIst: cutoffMinutes(e.SHAREKHAN_TOKEN_CUTOFF_IST),
      maxLifetimeMs: e.SHAREKHAN_TOKEN_MAX_LIFETIME_HOURS * 3_600_000,
      loginStateTtlMs: e.SHAREKHAN_LOGIN_STATE_TTL_SECONDS * 1000,
      audit: { maxEvents: e.SHAREKHAN_AUDIT_MAX_EVENTS, ttlMs: e.SHAREKHAN_AUDIT_TTL_HOURS * 3_600_000 },
      encryption: { keys, activeKeyId: activeKeyId!, generated },
    };
  },
});
