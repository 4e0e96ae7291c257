/**
 * Small fakes for the orchestrator's unit tests (not used by the app): a token store that
 * implements the contract in memory and records every lookup, and a live order client.
 */
import { CacheService } from '../../src/cache/cache.service.js';
import { settingNamer } from '../../src/common/setting-names.js';
import type { ClaimResult, ReadResult, SetOptions } from '../../src/cache/core/cache.types.js';
import type { OrchestratorSettings, TradingUser } from '../../src/orchestrator/orchestrator.options.js';
import type { PlaceOrderResult } from '../../src/sharekhan/broker/sharekhan-client.js';
import type { Order } from '../../src/sharekhan/broker/sharekhan-order.schema.js';
import type { LiveOrderClient } from '../../src/orchestrator/live-broker.js';
import { maskToken as maskOf, tokenFingerprint as fingerprintOf } from '../../src/sharekhan/tokens/token-crypto.js';
import type { ShareKhanSettings } from '../../src/sharekhan/sharekhan.options.js';
import { StaticTokens } from '../../src/sharekhan/tokens/static-tokens.js';
import type { TokenLookupLike, TokenStorePort, TokenViewLike } from '../../src/orchestrator/token-store.port.js';

export function settingsFor(users: TradingUser[], over: Partial<OrchestratorSettings> = {}): OrchestratorSettings {
  return {
    users,
    strayEnvTokenVars: [],
    premarketTimes: [],
    premarketDays: '1-5',
    orderLimits: { maxQuantity: 5_000, maxNotional: 5_000_000 },
    brokerSetupHint: "Set ShareKhanAuthModule's apiKey option and restart.",
    fanoutConcurrency: 4,
    brokerOrdersPerSecond: 10,
    brokerMaxWaitMs: 5_000,
    brokerTransitMarginMs: 50,
    idempotencyTtlMs: 60_000,
    idempotencyWhenUnavailable: 'refuse',
    paperRequiresToken: true,
    orderHistoryLimit: 100,
    orderHistoryTtlMs: 60_000,
    orderTimeoutMs: 1_000,
    tokenSubmitPath: 'PUT /sharekhan/users/{userId}/token',
    nameOf: settingNamer('OrchestratorModule'),
    ...over,
  };
}

export const PAPER: TradingUser = { userId: 'PAPER_TRADER_001', mode: 'paper', customerId: '', loginId: '' };
export const LIVE: TradingUser = { userId: 'MASTER_USER_001', mode: 'live', customerId: 'C100', loginId: 'LOGIN100' };
export const LIVE2: TradingUser = { userId: 'LIVE_USER_002', mode: 'live', customerId: 'C200', loginId: 'LOGIN200' };

export function viewOf(userId: string, token: string, over: Partial<TokenViewLike> = {}): TokenViewLike {
  return {
    userId,
    status: 'active',
    mask: maskOf(token),
    fingerprint: fingerprintOf(token),
    expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    secondsLeft: 3600,
    source: 'manual',
    lastValidatedAt: null,
    ...over,
  };
}

export class FakeTokenStore implements TokenStorePort {
  readonly answers = new Map<string, TokenLookupLike>();
  readonly lookups: string[] = [];
  readonly invalidated: { userId: string; reason: string }[] = [];
  readonly audits: { userId: string; action: string; fingerprint?: string }[] = [];
  /** When set, every lookup answers this (e.g. unavailable). */
  override: TokenLookupLike | null = null;

  put(userId: string, token: string, over: Partial<TokenViewLike> = {}): void {
    this.answers.set(userId, { kind: 'found', accessToken: token, view: viewOf(userId, token, over) });
  }

  async lookup(userId: string): Promise<TokenLookupLike> {
    this.lookups.push(userId);
    return this.override ?? this.answers.get(userId) ?? { kind: 'missing' };
  }

  async markInvalid(userId: string, fingerprint: string, reason: string): Promise<void> {
    this.invalidated.push({ userId, reason });
    const a = this.answers.get(userId);
    if (a && a.kind === 'found' && a.view.fingerprint === fingerprint) {
      this.answers.set(userId, { kind: 'invalid', view: { ...a.view, status: 'invalid', statusReason: reason } });
    }
  }

  async audit(userId: string, event: { action: string; fingerprint?: string }): Promise<void> {
    this.audits.push({ userId, action: event.action, fingerprint: event.fingerprint });
  }
}

export class FakeLiveClient implements LiveOrderClient {
  readonly sent: { accessToken: string; order: Order }[] = [];
  /** Per call: throw this error instead of answering (consumed in order). */
  readonly failures: unknown[] = [];
  delayMs = 0;
  inFlight = 0;
  maxInFlight = 0;
  private seq = 0;

  async placeOrder(accessToken: string, order: Order): Promise<PlaceOrderResult> {
    this.sent.push({ accessToken, order });
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
      const failure = this.failures.shift();
      if (failure) throw failure;
      const orderId = String(++this.seq + 5000);
      return { orderId, orderStatus: 'Pending', data: { orderId } };
    } finally {
      this.inFlight--;
    }
  }
}

/** A memory-mode CacheService whose reads can be switched to "unavailable" (Redis down, key not in memory). */
export class SwitchableCache extends CacheService {
  unavailable = false;

  constructor() {
    super({ redis: null, keyPrefix: 't:' });
  }

  override async read<T>(key: string): Promise<ReadResult<T>> {
    if (this.unavailable) return { state: 'unavailable', source: 'none' };
    return super.read<T>(key);
  }

  override async setIfAbsent<T>(key: string, value: T, options: SetOptions = {}): Promise<ClaimResult<T>> {
    if (this.unavailable) return { state: 'unknown', authoritative: false };
    return super.setIfAbsent<T>(key, value, options);
  }
}

/** StaticTokens over a cache, with the given static tokens configured (what ShareKhanAuthModule builds). */
export function staticTokensFor(cache: CacheService, tokens: [string, string][] = []): StaticTokens {
  return new StaticTokens({ staticTokens: new Map(tokens) } as unknown as ShareKhanSettings, cache);
}
