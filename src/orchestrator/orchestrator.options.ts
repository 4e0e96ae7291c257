import type { Registry } from 'prom-client';
import { z } from 'zod';
import { parseModuleOptions } from '../common/module-options.js';
import { settingNamer, settingNamesSchema, type SettingNamer } from '../common/setting-names.js';
import { USER_ID_PATTERN } from '../common/user-id.js';

export type TradingMode = 'paper' | 'live';

export interface TradingUser {
  userId: string;
  mode: TradingMode;
  /** ShareKhan customer id (the broker account). Empty only for paper users. */
  customerId: string;
  /** ShareKhan login id, sent as `channelUser`. Empty only for paper users. */
  loginId: string;
  /** This user's own per-order limits; unset fields take the module's `orderLimits`. */
  limits?: Partial<OrderLimits>;
}

/** Per-order fat-finger limits: an order above either is refused before anything is sent. */
export interface OrderLimits {
  /** Largest quantity of one order. */
  maxQuantity: number;
  /** Largest price x quantity of one order (checked when the order has a price above 0). */
  maxNotional: number;
}

export interface PremarketTime {
  hour: number;
  minute: number;
  /** As configured, e.g. "08:45". */
  label: string;
}

/** Sane for a cash desk: 5,000 shares, or ₹50 lakh (5,000,000) in one order. */
export const DEFAULT_ORDER_LIMITS: OrderLimits = { maxQuantity: 5_000, maxNotional: 5_000_000 };

const CUSTOMER_ID = /^[A-Za-z0-9_-]{1,64}$/;
const LOGIN_ID = /^[^\s:,]{1,64}$/;
const HH_MM = /^([01]\d|2[0-3]):([0-5]\d)$/;
const CRON_DAYS = /^[0-7*](?:[-,][0-7])*$/;

const QTY = 'a maxQuantity that is a whole number of at least 1';
const NOTIONAL = 'a maxNotional that is a number above 0';
const maxQuantity = () => z.number({ error: QTY }).int({ error: QTY }).min(1, { error: QTY });
const maxNotional = () => z.number({ error: NOTIONAL }).positive({ error: NOTIONAL }).finite({ error: NOTIONAL });

const limitsSchema = z.object({ maxQuantity: maxQuantity().optional(), maxNotional: maxNotional().optional() }).strict();

const userSchema = z
  .object({
    userId: z.string().regex(USER_ID_PATTERN, { error: 'a user id of 1-64 characters A-Z, 0-9 or _' }),
    mode: z.enum(['paper', 'live'], { error: 'paper or live' }),
    customerId: z.string().default(''),
    loginId: z.string().default(''),
    limits: limitsSchema.optional(),
  })
  .superRefine((u, ctx) => {
    const live = u.mode === 'live';
    if ((live || u.customerId !== '') && !CUSTOMER_ID.test(u.customerId)) {
      ctx.addIssue({ code: 'custom', path: ['customerId'], message: `1-64 letters, digits, _ or -${live ? ' (required for live users)' : ''}` });
    }
    if ((live || u.loginId !== '') && !LOGIN_ID.test(u.loginId)) {
      ctx.addIssue({ code: 'custom', path: ['loginId'], message: `1-64 characters without spaces${live ? ' (required for live users)' : ''}` });
    }
  });

/** Where trading users come from, as the library's messages name it (an app names its own with `settingNames`). */
export const USERS_OPTION = "OrchestratorModule's `users` option";

/** Options of `OrchestratorModule.forRoot()`. */
export const orchestratorOptionsSchema = z.object({
  /** Who trades, each on their own broker account. */
  users: z
    .array(userSchema)
    .default([])
    .superRefine(
      (us, ctx) => {
        // Also when other entries are wrong: one message lists every problem of the list at once.
        const ids = us.map((u) => (typeof (u as { userId?: unknown } | null)?.userId === 'string' ? u.userId : null));
        ids.forEach((id, i) => {
          if (id !== null && ids.indexOf(id) < i) ctx.addIssue({ code: 'custom', path: [i, 'userId'], message: `a user id not used before${USER_ID_PATTERN.test(id) ? ` (${id})` : ''}` });
        });
      },
      { when: (payload) => Array.isArray(payload.value) },
    ),
  premarketCheck: z
    .object({
      /** HH:MM in IST; empty turns the scheduled check off. */
      timesIst: z.array(z.string().regex(HH_MM, { error: 'HH:MM times in IST, e.g. 08:45' })).default(['08:45', '09:10']),
      /** Cron day-of-week field. */
      days: z.string().regex(CRON_DAYS, { error: 'cron day-of-week such as 1-5 (Mon-Fri) or 0-6 or 1,2,3' }).default('1-5'),
    })
    .prefault({}),
  /** Every user's per-order limits unless its own `limits` say otherwise (defaults: 5,000 and 50 lakh). */
  orderLimits: z
    .object({ maxQuantity: maxQuantity().default(DEFAULT_ORDER_LIMITS.maxQuantity), maxNotional: maxNotional().default(DEFAULT_ORDER_LIMITS.maxNotional) })
    .prefault({}),
  /** Safety net only: the broker rate limit paces a signal; this caps what one replica has in flight. */
  fanoutConcurrency: z.number().int().min(1).max(1_000).default(64),
  /** Live orders per second per ShareKhan API key, across every replica (docs/orchestrator.md, "Broker rate limit"). */
  brokerOrdersPerSecond: z.number().int().min(1).max(1_000).default(10),
  /** How long an order may wait for a slot under that limit before it is answered BROKER_RATE_LIMITED, nothing sent. */
  brokerMaxWaitMs: z.number().int().min(0).max(60_000).default(5_000),
  /** Added to the limit's one-second window for the jitter between granting an order and the broker receiving it. */
  brokerTransitMarginMs: z.number().int().min(0).max(5_000).default(50),
  idempotencyTtlMs: z.number().int().min(60_000).max(30 * 86_400_000).default(2 * 86_400_000),
  /** What a signal does when the cache cannot say whether it was already placed for a user. */
  idempotencyWhenUnavailable: z.enum(['proceed', 'refuse'], { error: 'proceed or refuse' }).default('refuse'),
  paperRequiresToken: z.boolean().default(true),
  orderHistoryLimit: z.number().int().min(1).max(10_000).default(500),
  orderHistoryTtlMs: z.number().int().min(60_000).max(90 * 86_400_000).default(7 * 86_400_000),
  /** How long a live order may hang before it is reported as outcome unknown. */
  orderTimeoutMs: z.number().int().min(100).max(120_000).default(8_000),
  /** Shown in readiness when no live order can leave because ShareKhan is not configured (an app names its own settings). */
  brokerSetupHint: z.string().max(200).default("Set ShareKhanAuthModule's apiKey option and restart."),
  /** Shown in "token missing" errors; `{userId}` is replaced. */
  tokenSubmitHint: z.string().max(200).default('PUT /sharekhan/users/{userId}/token'),
  /** The app's Prometheus registry (for `orchestrator_orders_total`); without one, no metrics. */
  metricsRegistry: z.custom<Registry>((v) => typeof v === 'object' && v !== null && typeof (v as Registry).metrics === 'function').optional(),
  /** What messages call each option, e.g. `{ users: 'TRADING_USERS' }`; unnamed options by their option name. */
  settingNames: settingNamesSchema,
});

export type OrchestratorModuleOptions = z.input<typeof orchestratorOptionsSchema>;

/** The options after validation and defaults: what the orchestrator's services read. */
export interface OrchestratorSettings {
  users: TradingUser[];
  /** Static tokens naming no configured user (reported once at start-up, by user id only). */
  strayEnvTokenVars: string[];
  premarketTimes: PremarketTime[];
  premarketDays: string;
  /** Limits for users without their own. */
  orderLimits: OrderLimits;
  brokerSetupHint: string;
  fanoutConcurrency: number;
  brokerOrdersPerSecond: number;
  brokerMaxWaitMs: number;
  brokerTransitMarginMs: number;
  idempotencyTtlMs: number;
  idempotencyWhenUnavailable: 'proceed' | 'refuse';
  paperRequiresToken: boolean;
  orderHistoryLimit: number;
  orderHistoryTtlMs: number;
  orderTimeoutMs: number;
  tokenSubmitPath: string;
  metricsRegistry?: Registry;
  /** What to tell an operator to set for an option (`settingNames`, else the option's own name). */
  nameOf: SettingNamer;
}

export function resolveOrchestratorOptions(
  input: OrchestratorModuleOptions | undefined,
  staticTokenUsers: readonly string[] = [],
): OrchestratorSettings {
  const o = parseModuleOptions('OrchestratorModule', orchestratorOptionsSchema, input);
  const known = new Set(o.users.map((u) => u.userId));
  // Exact id only (StaticTokens looks tokens up by the exact id): others are reported at start-up.
  const stray = staticTokenUsers.filter((userId) => !known.has(userId));
  const premarketTimes: PremarketTime[] = [];
  for (const label of o.premarketCheck.timesIst) {
    const [hour, minute] = label.split(':').map(Number);
    if (!premarketTimes.some((t) => t.label === label)) premarketTimes.push({ hour, minute, label });
  }
  return {
    users: o.users,
    strayEnvTokenVars: [...stray].sort(),
    premarketTimes,
    premarketDays: o.premarketCheck.days,
    orderLimits: o.orderLimits,
    brokerSetupHint: o.brokerSetupHint,
    fanoutConcurrency: o.fanoutConcurrency,
    brokerOrdersPerSecond: o.brokerOrdersPerSecond,
    brokerMaxWaitMs: o.brokerMaxWaitMs,
    brokerTransitMarginMs: o.brokerTransitMarginMs,
    idempotencyTtlMs: o.idempotencyTtlMs,
    idempotencyWhenUnavailable: o.idempotencyWhenUnavailable,
    paperRequiresToken: o.paperRequiresToken,
    orderHistoryLimit: o.orderHistoryLimit,
    orderHistoryTtlMs: o.orderHistoryTtlMs,
    orderTimeoutMs: o.orderTimeoutMs,
    tokenSubmitPath: o.tokenSubmitHint,
    metricsRegistry: o.metricsRegistry,
    nameOf: settingNamer('OrchestratorModule', o.settingNames),
  };
}
