import { z } from 'zod';
import { orchestratorOptionsSchema, type OrchestratorModuleOptions, type TradingMode, type TradingUser } from '../orchestrator/index.js';
import { defineSection } from './config-section.js';
import { entryProblems, splitEntries } from './entry-problems.js';
import { enumVar, optionalString } from './env-types.js';

/** How the module's message for a user field reads after "entry N (userId)". */
const USER_FIELD_VERB: Record<string, string> = {
  mode: 'to have mode',
  customerId: 'to have a customer id of',
  loginId: 'to have a login id of',
  limits: 'to have',
};

const FORMAT = 'userId:mode:customerId:loginId, optionally followed by :maxQuantity:maxNotional';

/** An optional limit field: empty keeps the default; anything else must be a number (the schema says which). */
function limitField(text: string | undefined): number | string | undefined {
  if (text === undefined || text === '') return undefined;
  return /^\d+(\.\d+)?$/.test(text) ? Number(text) : text;
}

/**
 * `userId:mode:customerId:loginId[:maxQuantity:maxNotional]`, comma-separated. Only the syntax is
 * checked here; what a valid user is, OrchestratorModule's options schema says.
 */
export function parseTradingUsers(raw: string | undefined): { users: TradingUser[]; problems: string[] } {
  const users: TradingUser[] = [];
  const positions: number[] = [];
  const problems: string[] = [];
  splitEntries(raw).forEach((entry, i) => {
    const parts = entry.split(':').map((p) => p.trim());
    if (parts.length !== 4 && parts.length !== 6) return problems.push(`entry ${i + 1} to be ${FORMAT} (it has ${parts.length} field(s))`);
    const [userId, mode, customerId, loginId, quantity, notional] = parts;
    const limits = { maxQuantity: limitField(quantity), maxNotional: limitField(notional) };
    const user = { userId, mode: mode as TradingMode, customerId, loginId };
    const hasLimits = limits.maxQuantity !== undefined || limits.maxNotional !== undefined;
    users.push(hasLimits ? { ...user, limits: withoutUnset(limits) as TradingUser['limits'] } : user);
    positions.push(i + 1);
  });
  const verb = (field?: string) => USER_FIELD_VERB[field ?? ''] ?? 'to have';
  problems.push(...entryProblems(orchestratorOptionsSchema, { users }, { listPath: ['users'], labelField: 'userId', verb, positions }));
  return { users, problems };
}

function withoutUnset(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** `HH:MM` times in IST, comma-separated; empty turns the scheduled check off. */
export function parsePremarketTimes(raw: string): { timesIst: string[]; problems: string[] } {
  const timesIst = splitEntries(raw);
  const result = orchestratorOptionsSchema.safeParse({ premarketCheck: { timesIst } });
  const problems = result.success ? [] : [...new Set(result.error.issues.filter((i) => i.path[0] === 'premarketCheck').map((i) => i.message))];
  return { timesIst, problems };
}

const orchestratorEnvSchema = z.object({
  TRADING_USERS: optionalString().transform((raw, ctx) => {
    const { users, problems } = parseTradingUsers(raw);
    for (const message of problems) ctx.addIssue({ code: 'custom', message });
    return users;
  }),
  // Unset means the default; set but empty turns the scheduled check off.
  ORCHESTRATOR_PREMARKET_CHECK_IST: z
    .string()
    .default('08:45,09:10')
    .transform((raw, ctx) => {
      const { timesIst, problems } = parsePremarketTimes(raw);
      for (const message of problems) ctx.addIssue({ code: 'custom', message });
      return timesIst;
    }),
  ORCHESTRATOR_IDEMPOTENCY_WHEN_UNAVAILABLE: enumVar(['proceed', 'refuse'] as const, 'refuse'),
});

/** Each OrchestratorModule option the app sets, by the variable an operator sets for it (messages name these). */
export const ORCHESTRATOR_SETTING_NAMES = {
  users: 'TRADING_USERS',
  premarketCheck: 'ORCHESTRATOR_PREMARKET_CHECK_IST',
  'premarketCheck.timesIst': 'ORCHESTRATOR_PREMARKET_CHECK_IST',
  idempotencyWhenUnavailable: 'ORCHESTRATOR_IDEMPOTENCY_WHEN_UNAVAILABLE',
} as const;

/** Environment variables of the orchestrator: who trades, when the pre-market check runs, the idempotency policy. */
export const orchestratorSection = defineSection({
  schema: orchestratorEnvSchema,
  build: (e): OrchestratorModuleOptions => ({
    users: e.TRADING_USERS,
    premarketCheck: { timesIst: e.ORCHESTRATOR_PREMARKET_CHECK_IST },
    idempotencyWhenUnavailable: e.ORCHESTRATOR_IDEMPOTENCY_WHEN_UNAVAILABLE,
    settingNames: ORCHESTRATOR_SETTING_NAMES,
    brokerSetupHint: 'Set SHAREKHAN_API_KEY (and SHAREKHAN_SECRET_KEY for the daily login) and restart.',
  }),
});
