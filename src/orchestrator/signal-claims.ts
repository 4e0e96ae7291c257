import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { CacheService } from '../cache/index.js';
import { LocalClaims } from './local-claims.js';
import type { OrchestratorSettings } from './orchestrator.options.js';
import { ORCHESTRATOR_SETTINGS } from './orchestrator.tokens.js';
import type { OrderResult } from './orchestrator.types.js';

type ClaimRecord =
  | { state: 'claimed'; owner: string; at: string }
  | { state: 'done'; owner: string; at: string; result: OrderResult };

export type Claim =
  | { kind: 'claimed'; key: string; owner: string; storeUnavailable: boolean }
  | { kind: 'done'; result: OrderResult }
  | { kind: 'in_progress'; since: string | null }
  | { kind: 'unavailable' };

const claimKey = (signalId: string, userId: string) => `orchestrator:signal:${signalId}:${userId}`;

/**
 * Idempotency of signals, one key per signal and user, claimed before anything is sent:
 * - in this process the claim is atomic (a synchronous in-flight set), so two concurrent retries
 *   cannot both pass;
 * - across processes the claim is a set-if-absent in Redis (a Lua script), so of two instances
 *   claiming the same signal and user at the same moment exactly one places the order.
 * A finished attempt stores its result; a retry gets that result back and sends nothing.
 * An attempt that provably placed nothing releases the key, so a retry may place it.
 * Results are also kept in this process (LocalClaims), so a retry reaching this replica never
 * places twice, whatever Redis lost in between.
 */
@Injectable()
export class SignalClaims {
  private readonly logger = new Logger('SignalClaims');
  private readonly inFlight = new Set<string>();
  private localClaims: LocalClaims | null = null;

  constructor(
    private readonly cache: CacheService,
    @Inject(ORCHESTRATOR_SETTINGS) private readonly settings: OrchestratorSettings,
  ) {}

  async claim(signalId: string, userId: string): Promise<Claim> {
    const key = claimKey(signalId, userId);
    if (this.inFlight.has(key)) return { kind: 'in_progress', since: null };
    const known = this.local.get(key);
    if (known) return { kind: 'done', result: known };
    this.inFlight.add(key);
    try {
      const owner = randomUUID();
      const record: ClaimRecord = { state: 'claimed', owner, at: new Date().toISOString() };
      const ttl = { ttlMs: this.settings.idempotencyTtlMs };
      // One atomic set-if-absent in Redis: of two instances claiming at once, exactly one wins.
      const claim = await this.cache.setIfAbsent<ClaimRecord>(key, record, ttl);
      if (claim.state === 'exists') {
        this.inFlight.delete(key);
        const held = claim.value;
        if (held?.state === 'done') {
          this.local.remember(key, held.result);
          return { kind: 'done', result: held.result };
        }
        return { kind: 'in_progress', since: held?.at ?? null };
      }
      if (claim.state === 'claimed') return { kind: 'claimed', key, owner, storeUnavailable: false };
      // Redis came back empty and the fleet is re-seeding it: another replica may hold this
      // signal's record, so no policy proceeds (the window is seconds; a retry then gets the answer).
      // Otherwise Redis cannot be asked and this instance has no record: the operator's policy decides.
      if (claim.reason === 'reseeding' || this.settings.idempotencyWhenUnavailable === 'refuse') {
        this.inFlight.delete(key);
        return { kind: 'unavailable' };
      }
      await this.cache.set(key, record, ttl);
      return { kind: 'claimed', key, owner, storeUnavailable: true };
    } catch (err) {
      this.inFlight.delete(key);
      throw err;
    }
  }

  /** The attempt ended with the order placed or its outcome unknown: keep it, never send again. */
  async complete(claim: Extract<Claim, { kind: 'claimed' }>, result: OrderResult): Promise<void> {
    this.local.remember(claim.key, result);
    try {
      await this.cache.set(claim.key, { state: 'done', owner: claim.owner, at: result.at, result } satisfies ClaimRecord, {
        ttlMs: this.settings.idempotencyTtlMs,
      });
    } catch (err) {
      // The 'claimed' record stays, which also blocks a resend: safe, only less informative.
      this.logger.error(`Could not store the result under ${claim.key}: ${(err as Error)?.name ?? 'error'}`);
    } finally {
      this.inFlight.delete(claim.key);
    }
  }

  private get local(): LocalClaims {
    this.localClaims ??= new LocalClaims(this.settings.idempotencyTtlMs);
    return this.localClaims;
  }

  /** Known not placed: a retry may try again. */
  async release(claim: Extract<Claim, { kind: 'claimed' }>): Promise<void> {
    try {
      await this.cache.delete(claim.key);
    } catch (err) {
      this.logger.error(`Could not release ${claim.key}: ${(err as Error)?.name ?? 'error'}`);
    } finally {
      this.inFlight.delete(claim.key);
    }
  }
}
