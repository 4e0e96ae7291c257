import { BadRequestException, Inject, Injectable, Logger } from '@nestjs/common';
import { CacheService } from '../cache/index.js';
import type { CacheMode } from '../cache/index.js';
import { USER_ID_PATTERN } from '../common/user-id.js';
import { SHAREKHAN_SETTINGS, type ShareKhanSettings } from './sharekhan.options.js';
import { TokenAuditLog, type AuditActor, type AuditEvent, type AuditInput } from './token-audit.service.js';
import { TokenClock } from './token-clock.js';
import { TokenDecryptError, TokenKeyRing, maskToken, tokenFingerprint, type SealedToken } from './token-crypto.js';
import { istDate, tokenExpiry } from './token-expiry.js';

export type { AuditActor, AuditEvent } from './token-audit.service.js';

export type TokenRecordStatus = 'active' | 'expired' | 'invalid' | 'revoked';
export type TokenSource = 'manual' | 'login' | 'env';

/** Safe to return in responses and to log: no token text. */
export interface TokenView {
  userId: string;
  status: TokenRecordStatus;
  customerId: string | null;
  loginId: string | null;
  mask: string;
  fingerprint: string;
  issuedAt: string;
  expiresAt: string;
  secondsLeft: number;
  tradingDay: string;
  source: TokenSource;
  submittedBy: string;
  version: string;
  lastValidatedAt: string | null;
}

export type TokenLookup =
  | { kind: 'found'; accessToken: string; view: TokenView }
  | { kind: 'missing' }
  | { kind: 'expired'; view: TokenView }
  | { kind: 'invalid'; view: TokenView }
  | { kind: 'unavailable' };

/** What `status()` reports for one user: the GET endpoint's answer. */
export type TokenStatus =
  | { state: 'present'; view: TokenView; reason: string | null }
  | { state: 'missing' }
  | { state: 'unavailable' };

export interface SubmitInput {
  accessToken: string;
  customerId?: string | null;
  loginId?: string | null;
  source: TokenSource;
  actor: AuditActor;
  /** Audit action; `submitted` unless the login flow says `exchanged`. */
  action?: string;
}

/** The stored shape. `sealed` is null once the token is revoked or invalid: dead tokens are not kept. */
interface StoredToken {
  v: 1;
  broker: 'sharekhan';
  userId: string;
  customerId: string | null;
  loginId: string | null;
  sealed: SealedToken | null;
  fingerprint: string;
  mask: string;
  issuedAt: number;
  expiresAt: number;
  tradingDay: string;
  source: TokenSource;
  submittedBy: string;
  status: 'active' | 'invalid' | 'revoked';
  statusReason: string | null;
  lastValidatedAt: number | null;
}

interface IndexValue {
  users: string[];
}

export const tokenKey = (userId: string) => `sharekhan:token:${userId}`;
export const TOKEN_INDEX_KEY = 'sharekhan:token-index';

/** Thrown for a user id that is not in the canonical form: never looked up, never normalised. */
export class InvalidUserIdError extends BadRequestException {
  constructor() {
    super('userId must be 1-64 characters A-Z, 0-9 or _ (e.g. PAPER_TRADER_001)');
  }
}

export function assertUserId(userId: unknown): asserts userId is string {
  if (typeof userId !== 'string' || !USER_ID_PATTERN.test(userId)) throw new InvalidUserIdError();
}

/**
 * Each user's daily ShareKhan access token, encrypted, in the cache under exactly that user's
 * id. Lookups never try another id and never scan; the list of users comes from an index value.
 */
@Injectable()
export class ShareKhanTokenStore {
  private readonly logger = new Logger('ShareKhanTokenStore');
  private readonly settings: ShareKhanSettings;
  private readonly indexed = new Set<string>();
  private readonly pendingIndex = new Set<string>();
  private indexChain: Promise<void> = Promise.resolve();
  /** Record versions whose decryption failure was already reported, so a hot path logs it once. */
  private readonly reportedBroken = new Set<string>();

  constructor(
    private readonly cache: CacheService,
    private readonly keyRing: TokenKeyRing,
    private readonly clock: TokenClock,
    private readonly auditLog: TokenAuditLog,
    @Inject(SHAREKHAN_SETTINGS) settings: ShareKhanSettings,
  ) {
    this.settings = settings;
  }

  get cacheMode(): CacheMode {
    return this.cache.mode;
  }

  /** The token to trade with, for exactly this user id. Fails closed on every doubt. */
  async lookup(userId: string): Promise<TokenLookup> {
    assertUserId(userId);
    const r = await this.cache.read<StoredToken>(tokenKey(userId));
    if (r.state === 'unavailable') return { kind: 'unavailable' };
    if (r.state === 'miss' || !isStoredToken(r.value)) return { kind: 'missing' };
    const rec = r.value;
    const version = r.version ?? '';
    const view = this.toView(userId, rec, version);
    if (rec.status !== 'active') return { kind: 'invalid', view };
    if (view.status === 'expired') return { kind: 'expired', view };
    const invalid = { kind: 'invalid' as const, view: { ...view, status: 'invalid' as const } };
    if (!rec.sealed) return invalid;
    let accessToken: string;
    try {
      // The associated data is this user's key: a record copied from another user fails here.
      accessToken = this.keyRing.open(rec.sealed, tokenKey(userId));
    } catch (err) {
      if (!(err instanceof TokenDecryptError)) throw err;
      this.reportBroken(userId, version, rec.fingerprint, err);
      return invalid;
    }
    return rec.userId === userId ? { kind: 'found', accessToken, view } : invalid;
  }

  /** Status for people: present (any state), missing, or unknowable right now. */
  async status(userId: string): Promise<TokenStatus> {
    const found = await this.lookup(userId);
    switch (found.kind) {
      case 'unavailable':
      case 'missing':
        return { state: found.kind };
      case 'found':
        return { state: 'present', view: found.view, reason: null };
      case 'expired':
        return { state: 'present', view: found.view, reason: 'past its expiry; log in again or submit a new token' };
      case 'invalid':
        return { state: 'present', view: found.view, reason: await this.invalidReason(userId) };
    }
  }

  async submit(userId: string, input: SubmitInput): Promise<{ view: TokenView; store: 'redis' | 'memory' }> {
    assertUserId(userId);
    if (typeof input.accessToken !== 'string' || input.accessToken.length === 0) {
      throw new BadRequestException('accessToken must be a non-empty string');
    }
    const now = this.clock.now();
    const rec: StoredToken = {
      v: 1,
      broker: 'sharekhan',
      userId,
      customerId: input.customerId ?? null,
      loginId: input.loginId ?? null,
      sealed: this.keyRing.seal(input.accessToken, tokenKey(userId)),
      fingerprint: tokenFingerprint(input.accessToken),
      mask: maskToken(input.accessToken),
      issuedAt: now,
      expiresAt: tokenExpiry(now, this.settings.cutoffMinutesIst, this.settings.maxLifetimeMs),
      tradingDay: istDate(now),
      source: input.source,
      submittedBy: input.actor.who,
      status: 'active',
      statusReason: null,
      lastValidatedAt: null,
    };
    const written = await this.cache.set(tokenKey(userId), rec, { expiresAt: rec.expiresAt });
    await this.addToIndex(userId);
    await this.audit(userId, {
      action: input.action ?? 'submitted',
      actor: input.actor,
      fingerprint: rec.fingerprint,
      detail: `expires ${new Date(rec.expiresAt).toISOString()}${written.journaled ? '; stored in memory while Redis is unavailable' : ''}`,
    });
    return { view: this.toView(userId, rec, written.version), store: written.store };
  }

  /** DELETE: the token text is destroyed; a revoked marker stays until the token would have expired. */
  async revoke(userId: string, actor: AuditActor): Promise<{ revoked: boolean; view: TokenView | null }> {
    assertUserId(userId);
    const r = await this.cache.read<StoredToken>(tokenKey(userId));
    if (r.state === 'miss' || (r.state === 'hit' && !isStoredToken(r.value))) {
      await this.audit(userId, { action: 'delete_noop', actor, detail: 'no token stored' });
      return { revoked: false, view: null };
    }
    if (r.state === 'unavailable' || !isStoredToken(r.value)) {
      // Cannot read what is there, but a delete is always safe to replay.
      await this.cache.delete(tokenKey(userId));
      await this.audit(userId, { action: 'deleted', actor, detail: 'record deleted while its content was unreadable' });
      return { revoked: true, view: null };
    }
    const next: StoredToken = { ...r.value, sealed: null, status: 'revoked', statusReason: `deleted by ${actor.who}` };
    const view = await this.rewrite(userId, next);
    await this.audit(userId, { action: 'deleted', actor, fingerprint: r.value.fingerprint });
    return { revoked: true, view };
  }

  /** The broker refused the token (403) or someone revoked it: stop every use of it. */
  async markInvalid(userId: string, reason: string, actor: AuditActor): Promise<void> {
    assertUserId(userId);
    const r = await this.cache.read<StoredToken>(tokenKey(userId));
    const rec = r.state === 'hit' && isStoredToken(r.value) ? r.value : null;
    if (rec && rec.status === 'active') {
      await this.rewrite(userId, { ...rec, sealed: null, status: 'invalid', statusReason: reason.slice(0, 200) });
    } else if (r.state === 'unavailable') {
      await this.cache.delete(tokenKey(userId));
    }
    await this.audit(userId, { action: 'invalidated', actor, fingerprint: rec?.fingerprint, detail: reason });
  }

  /** A cheap broker call accepted the token. */
  async markValidated(userId: string, fingerprint: string, actor: AuditActor): Promise<TokenView | null> {
    assertUserId(userId);
    const r = await this.cache.read<StoredToken>(tokenKey(userId));
    let view: TokenView | null = null;
    if (r.state === 'hit' && isStoredToken(r.value) && r.value.fingerprint === fingerprint && r.value.status === 'active') {
      view = await this.rewrite(userId, { ...r.value, lastValidatedAt: this.clock.now() });
    }
    await this.audit(userId, { action: 'validated', actor, fingerprint });
    return view;
  }

  /** Every user that ever stored a token here (from the index value, never a scan). */
  async list(): Promise<{ users: { userId: string; status: TokenStatus }[]; complete: boolean }> {
    const { users, complete } = await this.indexedUsers();
    const out = await Promise.all(users.map(async (userId) => ({ userId, status: await this.status(userId) })));
    return { users: out, complete };
  }

  audit(userId: string, event: AuditInput): Promise<void> {
    assertUserId(userId);
    return this.auditLog.append(userId, event);
  }

  auditEvents(userId: string): Promise<{ events: AuditEvent[]; complete: boolean }> {
    assertUserId(userId);
    return this.auditLog.read(userId);
  }

  private async invalidReason(userId: string): Promise<string | null> {
    const r = await this.cache.read<StoredToken>(tokenKey(userId));
    if (r.state !== 'hit' || !isStoredToken(r.value)) return null;
    if (r.value.statusReason) return r.value.statusReason;
    return 'the stored token cannot be decrypted for this user; submit a new one';
  }

  /** Same expiry as before: a status change never extends a token's life. */
  private async rewrite(userId: string, rec: StoredToken): Promise<TokenView | null> {
    if (rec.expiresAt <= Date.now()) return null;
    try {
      const written = await this.cache.set(tokenKey(userId), rec, { expiresAt: rec.expiresAt });
      return this.toView(userId, rec, written.version);
    } catch (err) {
      this.logger.warn(`token record of ${userId} not rewritten: ${(err as Error).message}`);
      return null;
    }
  }

  private toView(userId: string, rec: StoredToken, version: string): TokenView {
    const now = this.clock.now();
    const expired = now >= rec.expiresAt;
    return {
      userId,
      status: rec.status === 'active' && expired ? 'expired' : rec.status,
      customerId: rec.customerId,
      loginId: rec.loginId,
      mask: rec.mask,
      fingerprint: rec.fingerprint,
      issuedAt: new Date(rec.issuedAt).toISOString(),
      expiresAt: new Date(rec.expiresAt).toISOString(),
      secondsLeft: Math.max(0, Math.floor((rec.expiresAt - now) / 1000)),
      tradingDay: rec.tradingDay,
      source: rec.source,
      submittedBy: rec.submittedBy,
      version,
      lastValidatedAt: rec.lastValidatedAt === null ? null : new Date(rec.lastValidatedAt).toISOString(),
    };
  }

  private reportBroken(userId: string, version: string, fingerprint: string, err: TokenDecryptError): void {
    const id = `${userId}@${version}`;
    if (this.reportedBroken.has(id)) return;
    if (this.reportedBroken.size > 10_000) this.reportedBroken.clear();
    this.reportedBroken.add(id);
    this.logger.warn(`token of ${userId} (${fingerprint}) is unusable: ${err.message}`);
    void this.audit(userId, { action: 'decrypt_failed', actor: { who: 'token-store', source: 'store' }, fingerprint, detail: err.message });
  }

  private addToIndex(userId: string): Promise<void> {
    if (this.indexed.has(userId)) return Promise.resolve();
    this.pendingIndex.add(userId);
    return this.updateIndex();
  }

  private async indexedUsers(): Promise<{ users: string[]; complete: boolean }> {
    await this.indexChain;
    const r = await this.cache.read<IndexValue>(TOKEN_INDEX_KEY);
    const stored = r.state === 'hit' && Array.isArray(r.value?.users) ? r.value.users : [];
    for (const u of stored) this.indexed.add(u);
    if (r.state !== 'unavailable' && this.pendingIndex.size > 0) await this.updateIndex();
    return { users: [...new Set([...this.indexed, ...this.pendingIndex])].sort(), complete: r.state !== 'unavailable' };
  }

  /**
   * Read-merge-write of the index, serialised in this process. When the stored index cannot be
   * read, additions wait: writing a partial index would replace the full one on replay.
   */
  private updateIndex(): Promise<void> {
    const run = async () => {
      if (this.pendingIndex.size === 0) return;
      const r = await this.cache.read<IndexValue>(TOKEN_INDEX_KEY);
      if (r.state === 'unavailable') return;
      const stored = r.state === 'hit' && Array.isArray(r.value?.users) ? r.value.users : [];
      const merged = [...new Set([...stored, ...this.pendingIndex])].filter((u) => USER_ID_PATTERN.test(u)).sort();
      const adding = [...this.pendingIndex];
      if (merged.length !== stored.length) await this.cache.set(TOKEN_INDEX_KEY, { users: merged });
      for (const u of merged) this.indexed.add(u);
      for (const u of adding) this.pendingIndex.delete(u);
    };
    this.indexChain = this.indexChain.then(run).catch((err: Error) => {
      this.logger.warn(`token index not updated: ${err.message}`);
    });
    return this.indexChain;
  }
}

function isStoredToken(v: unknown): v is StoredToken {
  const r = v as StoredToken | undefined;
  return (
    typeof r === 'object' &&
    r !== null &&
    r.v === 1 &&
    typeof r.userId === 'string' &&
    typeof r.issuedAt === 'number' &&
    typeof r.expiresAt === 'number' &&
    typeof r.fingerprint === 'string'
  );
}
