import { z } from 'zod';
import { USER_ID_PATTERN } from '../common/user-id.js';
import type { OrchestratorModuleOptions, TradingMode, TradingUser } from '../orchestrator/index.js';
import { defineSection } from './config-section.js';
import { ConfigError } from './config-error.js';
import { enumVar, optionalString } from './env-types.js';

const CUSTOMER_ID = /^[A-Za-z0-9_-]{1,64}$/;
const LOGIN_ID = /^[^\s:,]{1,64}$/;
const HH_MM = /^([01]\d|2[0-3]):([0-5]\d)$/;

const orchestratorEnvSchema = z.object({
  TRADING_USERS: optionalString(),
  // Unset means the default; set but empty turns the scheduled check off.
  ORCHESTRATOR_PREMARKET_CHECK_IST: z.string().default('08:45,09:10'),
  ORCHESTRATOR_IDEMPOTENCY_WHEN_UNAVAILABLE: enumVar(['proceed', 'refuse'] as const, 'refuse'),
});

/** Environment variables of the orchestrator: who trades, when the pre-market check runs, the idempotency policy. */
export const orchestratorSection = defineSection({
  schema: orchestratorEnvSchema,
  build: (e): OrchestratorModuleOptions => {
    const problems: string[] = [];
    const users = parseTradingUsers(e.TRADING_USERS ?? '', problems);
    const timesIst = parsePremarketTimes(e.ORCHESTRATOR_PREMARKET_CHECK_IST, problems);
    if (problems.length > 0) throw new ConfigError(problems);
    return { users, premarketCheck: { timesIst }, idempotencyWhenUnavailable: e.ORCHESTRATOR_IDEMPOTENCY_WHEN_UNAVAILABLE };
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
export function parsePremarketTimes(text: string, problems: string[]): string[] {
  const out: string[] = [];
  for (const raw of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = HH_MM.exec(raw);
    if (!m) {
      problems.push(`ORCHESTRATOR_PREMARKET_CHECK_IST=${JSON.stringify(raw.slice(0, 20))} (wants HH:MM times in IST, e.g. 08:45,09:10)`);
      continue;
    }
    if (!out.includes(raw)) out.push(raw);
  }
  return out;
}
