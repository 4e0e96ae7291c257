import { z } from 'zod';
import { USER_ID_PATTERN } from '../common/user-id.js';
import { defineSection } from './config-section.js';
import { ConfigError } from './load-config.js';
import { boolVar, enumVar, intVar, optionalString } from './env-types.js';

export type TradingMode = 'paper' | 'live';

export interface TradingUser {
  userId: string;
  mode: TradingMode;
  /** ShareKhan customer id (the broker account). Empty only for paper users. */
  customerId: string;
  /** ShareKhan login id, sent as `channelUser`. Empty only for paper users. */
  loginId: string;
}

export interface PremarketTime {
  hour: number;
  minute: number;
  /** As configured, e.g. "08:45". */
  label: string;
}

/** Static tokens come from `SHAREKHAN_ACCESS_TOKEN_<USER_ID>`; the user id is the exact suffix. */
export const ENV_TOKEN_PREFIX = 'SHAREKHAN_ACCESS_TOKEN_';
const ENV_TOKEN_PATTERN = /^SHAREKHAN_ACCESS_TOKEN_/;

const CUSTOMER_ID = /^[A-Za-z0-9_-]{1,64}$/;
const LOGIN_ID = /^[^\s:,]{1,64}$/;
const HH_MM = /^([01]\d|2[0-3]):([0-5]\d)$/;
const CRON_DAYS = /^[0-7*](?:[-,][0-7])*$/;

const orchestratorEnvSchema = z.object({
  TRADING_USERS: optionalString(),
  // Unset means the default; set but empty turns the scheduled check off.
  ORCHESTRATOR_PREMARKET_CHECK_IST: z.string().default('08:45,09:10'),
  ORCHESTRATOR_PREMARKET_CHECK_DAYS: z
    .preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), z.string().default('1-5'))
    .pipe(z.string().regex(CRON_DAYS, { error: 'cron day-of-week such as 1-5 (Mon-Fri) or 0-6 or 1,2,3' })),
  ORCHESTRATOR_FANOUT_CONCURRENCY: intVar(4, 1, 64),
  ORCHESTRATOR_IDEMPOTENCY_TTL_SECONDS: intVar(2 * 24 * 3600, 60, 30 * 24 * 3600),
  ORCHESTRATOR_IDEMPOTENCY_WHEN_UNAVAILABLE: enumVar(['proceed', 'refuse'] as const, 'refuse'),
  ORCHESTRATOR_PAPER_REQUIRES_TOKEN: boolVar(true),
  ORCHESTRATOR_ORDER_HISTORY_LIMIT: intVar(500, 1, 10_000),
  ORCHESTRATOR_ORDER_HISTORY_TTL_SECONDS: intVar(7 * 24 * 3600, 60, 90 * 24 * 3600),
  ORCHESTRATOR_ORDER_TIMEOUT_MS: intVar(8_000, 100, 120_000),
  ORCHESTRATOR_TOKEN_SUBMIT_PATH: z
    .preprocess(
      (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
      z.string().default('PUT /sharekhan/users/{userId}/token'),
    )
    .pipe(z.string().max(200, { error: 'at most 200 characters' })),
});

export interface OrchestratorSettings {
  users: TradingUser[];
  /** Static per-user tokens, by user id. Never logged, never returned. */
  envTokens: ReadonlyMap<string, string>;
  /** `SHAREKHAN_ACCESS_TOKEN_*` variables naming no configured user (reported once at start-up). */
  strayEnvTokenVars: string[];
  premarketTimes: PremarketTime[];
  premarketDays: string;
  fanoutConcurrency: number;
  idempotencyTtlMs: number;
  /** What a signal does when the cache cannot say whether it was already placed for a user. */
  idempotencyWhenUnavailable: 'proceed' | 'refuse';
  paperRequiresToken: boolean;
  orderHistoryLimit: number;
  orderHistoryTtlMs: number;
  orderTimeoutMs: number;
  /** Shown in "token missing" errors; `{userId}` is replaced. */
  tokenSubmitPath: string;
}

export const orchestratorSection = defineSection({
  schema: orchestratorEnvSchema,
  secretPatterns: [ENV_TOKEN_PATTERN],
  build: (e, env): OrchestratorSettings => {
    const problems: string[] = [];
    const users = parseTradingUsers(e.TRADING_USERS ?? '', problems);
    const premarketTimes = parsePremarketTimes(e.ORCHESTRATOR_PREMARKET_CHECK_IST, problems);
    if (problems.length > 0) throw new ConfigError(problems);

    const known = new Set(users.map((u) => u.userId));
    const envTokens = new Map<string, string>();
    const strayEnvTokenVars: string[] = [];
    for (const [name, value] of Object.entries(env)) {
      if (!name.startsWith(ENV_TOKEN_PREFIX) || value === undefined || value.trim() === '') continue;
      const userId = name.slice(ENV_TOKEN_PREFIX.length);
      // Exact id only: a token under another spelling must never reach a configured user.
      if (known.has(userId)) envTokens.set(userId, value.trim());
      else strayEnvTokenVars.push(name);
    }

    return {
      users,
      envTokens,
      strayEnvTokenVars: strayEnvTokenVars.sort(),
      premarketTimes,
      premarketDays: e.ORCHESTRATOR_PREMARKET_CHECK_DAYS,
      fanoutConcurrency: e.ORCHESTRATOR_FANOUT_CONCURRENCY,
      idempotencyTtlMs: e.ORCHESTRATOR_IDEMPOTENCY_TTL_SECONDS * 1000,
      idempotencyWhenUnavailable: e.ORCHESTRATOR_IDEMPOTENCY_WHEN_UNAVAILABLE,
      paperRequiresToken: e.ORCHESTRATOR_PAPER_REQUIRES_TOKEN,
      orderHistoryLimit: e.ORCHESTRATOR_ORDER_HISTORY_LIMIT,
      orderHistoryTtlMs: e.ORCHESTRATOR_ORDER_HISTORY_TTL_SECONDS * 1000,
      orderTimeoutMs: e.ORCHESTRATOR_ORDER_TIMEOUT_MS,
      tokenSubmitPath: e.ORCHESTRATOR_TOKEN_SUBMIT_PATH,
    };
  },
});

/** `userId:mode:customerId:loginId`, comma-separated. Problems are appended, phrased per entry. */
export function parseTradingUsers(text: string, problems: string[]): TradingUser[] {
  const users: TradingUser[] = [];
  const seen = new Set<string>();
  const entries = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  entries.forEach((entry, i) => {
    const where = `TRADING_USERS entry ${i + 1}`;
    const parts = entry.split(':');
    if (parts.length !== 4) {
      problems.push(`${where} has ${parts.length} field(s) (wants userId:mode:customerId:loginId)`);
      return;
    }
    const [userId, mode, customerId, loginId] = parts.map((p) => p.trim());
    const before = problems.length;
    if (!USER_ID_PATTERN.test(userId)) {
      problems.push(`${where} user id ${JSON.stringify(userId.slice(0, 70))} (wants 1-64 characters A-Z, 0-9 or _)`);
    } else if (seen.has(userId)) {
      problems.push(`${where} repeats user id ${userId} (wants each user once)`);
    }
    if (mode !== 'paper' && mode !== 'live') {
      problems.push(`${where} mode ${JSON.stringify(mode.slice(0, 20))} (wants paper or live)`);
    }
    const needsAccount = mode === 'live';
    if ((needsAccount || customerId !== '') && !CUSTOMER_ID.test(customerId)) {
      problems.push(`${where} customer id (wants 1-64 letters, digits, _ or -${needsAccount ? '; required for live users' : ''})`);
    }
    if ((needsAccount || loginId !== '') && !LOGIN_ID.test(loginId)) {
      problems.push(`${where} login id (wants 1-64 characters without spaces${needsAccount ? '; required for live users' : ''})`);
    }
    if (problems.length > before) return;
    seen.add(userId);
    users.push({ userId, mode: mode as TradingMode, customerId, loginId });
  });
  return users;
}

/** `HH:MM` times in IST, comma-separated; empty turns the scheduled check off. */
export function parsePremarketTimes(text: string, problems: string[]): PremarketTime[] {
  const out: PremarketTime[] = [];
  for (const raw of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = HH_MM.exec(raw);
    if (!m) {
      problems.push(`ORCHESTRATOR_PREMARKET_CHECK_IST=${JSON.stringify(raw.slice(0, 20))} (wants HH:MM times in IST, e.g. 08:45,09:10)`);
      continue;
    }
    if (!out.some((t) => t.label === raw)) out.push({ hour: Number(m[1]), minute: Number(m[2]), label: raw });
  }
  return out;
}
