import { z } from 'zod';
import { USER_ID_PATTERN } from '../common/user-id.js';
import { shareKhanOptionsSchema, type ShareKhanModuleOptions, type TokenKeySpec } from '../sharekhan/index.js';
import { defineSection } from './config-section.js';
import { entryProblems, splitEntries } from './entry-problems.js';
import { optionalString } from './env-types.js';

/** Static tokens come from `SHAREKHAN_ACCESS_TOKEN_<USER_ID>`; the user id is the exact suffix. */
export const ENV_TOKEN_PREFIX = 'SHAREKHAN_ACCESS_TOKEN_';
const ENV_TOKEN_PATTERN = /^SHAREKHAN_ACCESS_TOKEN_/;

/**
 * `keyId:base64` entries, split at the first colon; the FIRST seals new tokens, the others only
 * open tokens sealed before a rotation. What a valid key is, ShareKhanAuthModule's options schema
 * says. Problems name an entry by position and id only: a key never reaches a log.
 */
export function parseTokenKeys(raw: string | undefined): { keys: TokenKeySpec[]; problems: string[] } {
  const keys: TokenKeySpec[] = [];
  const positions: number[] = [];
  const problems: string[] = [];
  splitEntries(raw).forEach((part, i) => {
    const at = part.indexOf(':');
    if (at < 0) return problems.push(`entry ${i + 1} to be keyId:base64`);
    keys.push({ id: part.slice(0, at), keyBase64: part.slice(at + 1) });
    positions.push(i + 1);
  });
  if (keys.length === 0) return { keys, problems };
  const options = { encryption: { keys, activeKeyId: keys[0].id } };
  const verb = (field?: string) => (field === 'keyBase64' ? 'to be' : 'to have');
  problems.push(...entryProblems(shareKhanOptionsSchema, options, { listPath: ['encryption', 'keys'], labelField: 'id', verb, positions }));
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
    SHAREKHAN_API_KEY: optionalString(),
    SHAREKHAN_SECRET_KEY: optionalString().refine((v) => v === undefined || Buffer.byteLength(v, 'utf8') === 32, {
      error: 'exactly 32 bytes (UTF-8), as issued by ShareKhan',
    }),
    SHAREKHAN_VENDOR_KEY: optionalString(),
    SHAREKHAN_REDIRECT_URL: optionalString().pipe(z.string().url({ error: 'an absolute URL' }).optional()),
    SHAREKHAN_TOKEN_CUTOFF_IST: optionalString().pipe(
      z
        .string()
        .regex(/^([01]\d|2[0-3]):[0-5]\d$/, { error: 'a time HH:MM (24 h, Asia/Kolkata), e.g. 06:00' })
        .default('06:00'),
    ),
    TOKEN_ENCRYPTION_KEYS: optionalString(),
  })
  .superRefine((e, ctx) => {
    const { keys, problems } = parseTokenKeys(e.TOKEN_ENCRYPTION_KEYS);
    for (const message of problems) ctx.addIssue({ code: 'custom', path: ['TOKEN_ENCRYPTION_KEYS'], message });
    if (problems.length === 0 && keys.length === 0 && e.NODE_ENV === 'production') {
      ctx.addIssue({
        code: 'custom',
        path: ['TOKEN_ENCRYPTION_KEYS'],
        message: 'at least one keyId:base64-of-32-bytes key in production (tokens are encrypted at rest with it)',
      });
    }
  });

/** Each ShareKhanAuthModule option the app sets, by the variable an operator sets for it (messages name these). */
export const SHAREKHAN_SETTING_NAMES = {
  apiKey: 'SHAREKHAN_API_KEY',
  secretKey: 'SHAREKHAN_SECRET_KEY',
  vendorKey: 'SHAREKHAN_VENDOR_KEY',
  apiBaseUrl: 'SHAREKHAN_API_BASE_URL',
  loginUrl: 'SHAREKHAN_API_BASE_URL',
  redirectUrl: 'SHAREKHAN_REDIRECT_URL',
  cutoffIst: 'SHAREKHAN_TOKEN_CUTOFF_IST',
  encryption: 'TOKEN_ENCRYPTION_KEYS',
  'encryption.keys': 'TOKEN_ENCRYPTION_KEYS',
  staticTokens: `${ENV_TOKEN_PREFIX}<USER_ID>`,
  accounts: 'TRADING_USERS',
} as const;

/** Environment variables of the ShareKhan module: broker endpoints and credentials, token cut-off and encryption, static tokens. */
export const sharekhanSection = defineSection({
  schema: schema as unknown as z.ZodObject<z.ZodRawShape>,
  secrets: ['SHAREKHAN_API_KEY', 'SHAREKHAN_SECRET_KEY', 'SHAREKHAN_VENDOR_KEY', 'TOKEN_ENCRYPTION_KEYS'],
  secretPatterns: [ENV_TOKEN_PATTERN],
  build: (raw, env): ShareKhanModuleOptions => {
    const e = raw as z.infer<typeof schema>;
    const { keys } = parseTokenKeys(e.TOKEN_ENCRYPTION_KEYS);
    const staticTokens: Record<string, string> = {};
    for (const [name, value] of Object.entries(env)) {
      if (!name.startsWith(ENV_TOKEN_PREFIX) || value === undefined || value.trim() === '') continue;
      const userId = name.slice(ENV_TOKEN_PREFIX.length);
      // Exact id only: a variable whose suffix is no user id is never read as anyone's token.
      if (USER_ID_PATTERN.test(userId)) staticTokens[userId] = value.trim();
    }
    const apiBaseUrl = e.SHAREKHAN_API_BASE_URL;
    return {
      // No keys outside production: the module makes a throwaway one and warns.
      encryption: keys.length > 0 ? { keys, activeKeyId: keys[0].id } : undefined,
      apiBaseUrl,
      // ShareKhan serves the login page beside the API: .../skapi/services -> .../skapi/auth/login.html.
      loginUrl: new URL('../auth/login.html', `${apiBaseUrl.replace(/\/+$/, '')}/`).toString(),
      apiKey: e.SHAREKHAN_API_KEY ?? null,
      secretKey: e.SHAREKHAN_SECRET_KEY ?? null,
      vendorKey: e.SHAREKHAN_VENDOR_KEY ?? null,
      redirectUrl: e.SHAREKHAN_REDIRECT_URL ?? null,
      cutoffIst: e.SHAREKHAN_TOKEN_CUTOFF_IST,
      staticTokens,
      settingNames: SHAREKHAN_SETTING_NAMES,
    };
  },
});
