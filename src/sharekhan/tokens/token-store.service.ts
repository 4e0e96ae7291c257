import { Inject, Injectable, Logger } from '@nestjs/common';
import { CacheClockNotSyncedError, CacheError, CacheService } from '../../cache/index.js';
import type { CacheMode } from '../../cache/index.js';
import { DomainError } from '../../common/domain-error.js';
import { USER_ID_PATTERN } from '../../common/user-id.js';
import { RevokeNotConfirmedError } from './revoke-not-confirmed.error.js';
import { SHAREKHAN_SETTINGS, type ShareKhanSettings } from '../sharekhan.options.js';
import { TokenAuditLog, type AuditActor, type AuditEvent, type AuditInput } from './token-audit.service.js';
import { TokenClock } from './token-clock.js';
import { TokenDecryptError, TokenKeyRing, maskToken, tokenFingerprint, type SealedToken } from './token-crypto.js';
import { istDate, istTime, tokenExpiry } from './token-expiry.js';

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
  /** Why the token is not usable (who revoked it and when, the broker's refusal, ...); null while usable. */
  statusReason: string | null;
}

export type TokenLookup =
  | { kind: 'found'; accessToken: string; view: TokenView }
  | { kind: 'missing' }
  | { kind: 'expired'; view: TokenView }
  | { kind: 'invalid'; view: TokenView }
  /** Held in memory only, and Redis has not confirmed it for longer than `unconfirmedTokenUseMs`. */
  | { kind: 'unconfirmed'; view: TokenView; unconfirmedForMs: number }
  | { kind: 'unavailable' };

/** What `status()` reports for one user: the GET endpoint's answer. */
export type TokenStatus =
  | { state: 'present'; view: TokenView; reason: string | null }
  | { state: 'missing' }
  | { state: 'unavailable' };

/**
/**
 * `already_revoked`, `missing` and `superseded` changed nothing (no audit event). `superseded`: a
 * newer token was stored while the revoke ran; it is left as it is (its submit was acknowledged).
 * `confirmed`: Redis holds the outcome, so every replica that can reach Redis sees it; false while
 * it is only in this instance's memory and journal (in effect here, replayed later).
 */
export type RevokeOutcome =
  | { revoked: true; state: 'revoked'; view: TokenView | null; confirmed: boolean }
  | { revoked: false; state: 'already_revoked'; view: TokenView; confirmed: boolean }
  | { revoked: false; state: 'superseded'; view: TokenView; confirmed: boolean }
  | { revoked: false; state: 'missing'; view: null; confirmed: boolean };

export interface SubmitInput {
  accessToken: string;
  customerId?: string | null;
  loginId?: string | null;
  source: TokenSource;
  actor: AuditActor;
  /** Audit action; `submitted` unless the login flow says `exchanged`. */
  action?: string;
}

/** The stored shape. `sealed` is null once the token is revoked (a 403 leaves the record, see markInvalid). */
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

export const tokenKey = (userId: string) => `sharekhan:token:${userId}`;
export const TOKEN_INDEX_KEY = 'sharekhan:token-index';
/** The index is an append log of user ids (read deduplicates); each process appends a user once. */
const INDEX_LIMITS = { maxEntries: 20_000, maxAgeMs: null };
/**
 * One key per token the broker refused: written for that fingerprint only, so it never touches a
 * newer token. Written only by `markInvalid`.
 */
export const rejectedKey = (userId: string, fingerprint: string) => `sharekhan:token-rejected:${userId}:${fingerprint}`;
/** Claimed once per expired token, so the `expired` audit event is written once across replicas. */
const expiredNoticeKey = (userId: string, fingerprint: string) => `sharekhan:token-expired:${userId}:${fingerprint}`;
/**
 * A record stays this long past its expiry, so the status says `expired` (409) rather than
 * `missing` (412) until the next token arrives, also over a long weekend.
 */
export const EXPIRED_RECORD_KEEP_MS = 4 * 86_400_000;
/**
 * Submits and revokes: on this replica's disk before the 200 (a crash right after loses nothing),
 * and refused (503 CACHE_CLOCK_NOT_SYNCED) while this replica cannot version them by the fleet's
 * clock, since a submit stamped by a clock running ahead would beat a later revoke everywhere.
 */
const TOKEN_WRITE = { durable: true, requireFleetClock: true } as const;

interface RejectedMarker {
  reason: string;
  at: number;
  by: string;
}

/** Thrown for a user id that is not in the canonical form: never looked up, never normalised. */
export class InvalidUserIdError extends DomainError {
  override name = 'InvalidUserIdError';
  constructor() {
    super('INVALID_USER_ID', 'userId must be 1-64 characters A-Z, 0-9 or _ (e.g. PAPER_TRADER_001)');
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
  private legacyIndexRead = false;
  /** Expired tokens whose `expired` event this process already saw written (or claimed). */
  private readonly expiredNoticed = new Set<string>();
  /** Record versions whose decryption failure was already reported, so a hot path logs it once. */
  private readonly reportedBroken = new Set<string>();
  /**
   * Per user: the fingerprint of the token read or written here last. Only a hint, so that its
   * refusal marker is read alongside the record: a wrong guess costs a second read, nothing else.
   */
  private readonly lastFingerprint = new Map<string, string>();
  /** Sealed tokens (ciphertext, never text) that decrypted here for a user: a status need not decrypt them again. */
  private readonly opened = new Set<string>();

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
    return (await this.find(userId, true)) as TokenLookup;
  }

  /** Status for people: present (any state), missing, or unknowable right now. */
  async status(userId: string): Promise<TokenStatus> {
    const found = await this.find(userId, false);
    switch (found.kind) {
      case 'unavailable':
      case 'missing':
        return { state: found.kind };
      case 'found':
      case 'usable':
        return { state: 'present', view: found.view, reason: null };
      case 'expired':
        return { state: 'present', view: found.view, reason: 'past its expiry; log in again or submit a new token' };
      case 'invalid':
        return { state: 'present', view: found.view, reason: found.view.statusReason };
      case 'unconfirmed':
        return { state: 'present', view: found.view, reason: unconfirmedReason(found.unconfirmedForMs) };
    }
  }

  /**
   * The lookup behind both: `withToken` false (a status) skips decrypting a sealed token this
   * process already opened for this user, answering `usable` instead of `found`; no token text is kept.
   */
  private async find(userId: string, withToken: boolean): Promise<TokenLookup | { kind: 'usable'; view: TokenView }> {
    assertUserId(userId);
    const read = this.cache.read<StoredToken>(tokenKey(userId));
    // The refusal marker of the token this user had last time, read alongside the record: only a
    // new token (another fingerprint) waits for a second read (docs/orchestrator.md, "Order latency").
    const guess = this.lastFingerprint.get(userId);
    const early = guess === undefined ? null : this.rejectedMarker(userId, guess);
    void early?.catch(() => undefined);
    const r = await read;
    if (r.state === 'unavailable') return { kind: 'unavailable' };
    if (r.state === 'miss' || !isStoredToken(r.value)) return { kind: 'missing' };
    const rec = r.value;
    const version = r.version ?? '';
    const view = this.toView(userId, rec, version);
    if (rec.status !== 'active') return { kind: 'invalid', view };
    this.hint(userId, rec.fingerprint);
    // A copy Redis has not vouched for lately (docs/sharekhan.md, `unconfirmedTokenUseMs`): the cache says how long.
    const unconfirmedForMs = r.fallback ? (r.confirmedAgoMs ?? Number.POSITIVE_INFINITY) : 0;
    if (unconfirmedForMs > this.settings.unconfirmedTokenUseMs) return { kind: 'unconfirmed', view, unconfirmedForMs };
    if (view.status === 'expired') {
      await this.noticeExpired(userId, rec);
      return { kind: 'expired', view };
    }
    const marker = early !== null && guess === rec.fingerprint ? early : this.rejectedMarker(userId, rec.fingerprint);
    const rejected = await marker;
    if (rejected) return { kind: 'invalid', view: { ...view, status: 'invalid', statusReason: rejected.reason } };
    const invalid = {
      kind: 'invalid' as const,
      view: { ...view, status: 'invalid' as const, statusReason: 'the stored token cannot be decrypted for this user; submit a new one' },
    };
    if (!rec.sealed) return invalid;
    // Decryption is deterministic: the same sealed bytes under the same user's key open again.
    const opened = sealedId(userId, rec.sealed);
    if (!withToken && this.opened.has(opened)) return rec.userId === userId ? { kind: 'usable', view } : invalid;
    let accessToken: string;
    try {
      // The associated data is this user's key: a record copied from another user fails here.
      accessToken = this.keyRing.open(rec.sealed, tokenKey(userId));
    } catch (err) {
      if (!(err instanceof TokenDecryptError)) throw err;
      this.reportBroken(userId, version, rec.fingerprint, err);
      return invalid;
    }
    if (rec.userId !== userId) return invalid;
    if (this.opened.size > 10_000) this.opened.clear();
    this.opened.add(opened);
    return { kind: 'found', accessToken, view };
  }

  async submit(userId: string, input: SubmitInput): Promise<{ view: TokenView; store: 'redis' | 'memory' }> {
    assertUserId(userId);
    if (typeof input.accessToken !== 'string' || input.accessToken.length === 0) {
      throw new DomainError('INVALID_ACCESS_TOKEN', 'accessToken must be a non-empty string');
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
    const written = await this.cache.set(tokenKey(userId), rec, { expiresAt: keepUntil(rec), ...TOKEN_WRITE });
    this.hint(userId, rec.fingerprint);
    await this.addToIndex(userId);
    await this.audit(userId, {
      action: input.action ?? 'submitted',
      actor: input.actor,
      fingerprint: rec.fingerprint,
      detail: `expires ${istTime(rec.expiresAt)}${written.journaled ? '; stored in memory while Redis is unavailable' : ''}`,
    });
    const view = this.toView(userId, rec, written.version);
    // The same token again after the broker refused it: stored, but say at once that it is unusable.
    const rejected = await this.rejectedMarker(userId, rec.fingerprint);
    return { view: rejected ? { ...view, status: 'invalid', statusReason: rejected.reason } : view, store: written.store };
  }

  /**
   * DELETE: the token text is destroyed; a revoked marker stays until the record would have gone.
   * Idempotent: a token already revoked, or no token, changes nothing and writes no audit event.
   */
  async revoke(userId: string, actor: AuditActor): Promise<RevokeOutcome> {
    assertUserId(userId);
    const r = await this.cache.read<StoredToken>(tokenKey(userId));
    // Read from a Redis the fleet has not re-seeded yet (it forgot), or from memory alone: a token
    // another replica holds may be missing from it, so no outcome is confirmed to the caller.
    const vouched = r.fallback !== true;
    if (r.state === 'miss' || (r.state === 'hit' && !isStoredToken(r.value))) {
      // A tombstone newer than any submit another replica may still replay: that submit came first.
      const deleted = await this.cache.delete(tokenKey(userId), TOKEN_WRITE);
      return { revoked: false, state: 'missing', view: null, confirmed: !deleted.journaled && vouched };
    }
    if (r.state === 'unavailable' || !isStoredToken(r.value)) {
      // Cannot read what is there, but a delete is always safe to replay.
      const deleted = await this.cache.delete(tokenKey(userId), TOKEN_WRITE);
      await this.audit(userId, { action: 'deleted', actor, detail: 'record deleted while its content was unreadable' });
      return { revoked: true, state: 'revoked', view: null, confirmed: !deleted.journaled };
    }
    const fingerprint = r.value.fingerprint;
    const statusReason = `revoked by ${actor.who} at ${istTime(this.clock.now())}`;
    let already = false;
    // Written only over the very record decided on: a token submitted meanwhile is never replaced.
    // An already revoked record is written again unchanged, so its version is newer than any submit
    // a cut-off replica acknowledged earlier and replays later.
    const done = await this.cache
      .update<StoredToken>(tokenKey(userId), (cur) => {
        if (!isStoredToken(cur) || cur.fingerprint !== fingerprint) throw new Unchanged(cur);
        already = cur.status === 'revoked';
        return already ? cur : { ...cur, sealed: null, status: 'revoked', statusReason };
      }, TOKEN_WRITE)
      .catch((err: unknown) => {
        if (err instanceof Unchanged) return err;
        // Refused before anything was written: the caller hears exactly that (503 CACHE_CLOCK_NOT_SYNCED).
        if (err instanceof CacheClockNotSyncedError) throw err;
        // Redis went away after the read (memory does not hold the record) or writers kept winning.
        if (err instanceof CacheError) throw new RevokeNotConfirmedError(userId, 'unwritable');
        throw err;
      });
    if (done instanceof Unchanged) {
      const cur = done.current;
      const confirmed = vouched;
      if (!isStoredToken(cur)) return { revoked: false, state: 'missing', view: null, confirmed };
      return { revoked: false, state: 'superseded', view: this.toView(userId, cur, ''), confirmed };
    }
    const view = this.toView(userId, done.value, done.version);
    if (already) return { revoked: false, state: 'already_revoked', view, confirmed: !done.journaled && vouched };
    await this.audit(userId, { action: 'deleted', actor, fingerprint });
    return { revoked: true, state: 'revoked', view, confirmed: !done.journaled && vouched };
  }

  /**
   * The broker refused the token with this fingerprint (403): stop every use of exactly that token.
   * The record itself is not rewritten, so it keeps `sealed`: the marker is keyed by the fingerprint, so it can only ever concern the token that was refused.
   */
  async markInvalid(userId: string, fingerprint: string, reason: string, actor: AuditActor): Promise<void> {
    assertUserId(userId);
    const r = await this.cache.read<StoredToken>(tokenKey(userId));
    const rec = r.state === 'hit' && isStoredToken(r.value) ? r.value : null;
    const now = this.clock.now();
    const marker: RejectedMarker = { reason: reason.slice(0, 200), at: now, by: actor.who };
    const until = rec && rec.fingerprint === fingerprint ? keepUntil(rec) : now + this.settings.maxLifetimeMs + EXPIRED_RECORD_KEEP_MS;
    const key = rejectedKey(userId, fingerprint);
    // Durable, not refused for the clock: the marker names one token, is never overwritten, so its version orders nothing.
    const claim = await this.cache.setIfAbsent(key, marker, { expiresAt: Math.max(until, now + 60_000) });
    if (claim.state === 'unknown') await this.cache.set(key, marker, { expiresAt: Math.max(until, now + 60_000), durable: true });
    // Another instance recorded this refusal already (and wrote its audit event).
    if (claim.state === 'exists') return;
    const newer = rec && rec.fingerprint !== fingerprint ? `; the stored token is a newer one (${rec.fingerprint}), left as it is` : '';
    await this.audit(userId, { action: 'invalidated', actor, fingerprint, detail: `${reason}${newer}` });
  }

  /** A cheap broker call accepted the token: noted only on that token's record while it is still active. */
  async markValidated(userId: string, fingerprint: string, actor: AuditActor): Promise<TokenView | null> {
    assertUserId(userId);
    let view: TokenView | null = null;
    try {
      // Redis only: a stamp journaled in an outage would replay newest-wins over a revoke made elsewhere.
      const done = await this.cache.update<StoredToken>(
        tokenKey(userId),
        (cur) => {
          // A revoke or a newer token that landed since the broker call must not be overwritten.
          if (!isStoredToken(cur) || cur.fingerprint !== fingerprint || cur.status !== 'active') throw new Unchanged(cur);
          return { ...cur, lastValidatedAt: this.clock.now() };
        },
        { requireRedis: true },
      );
      view = this.toView(userId, done.value, done.version);
    } catch (err) {
      if (!(err instanceof Unchanged)) this.logger.warn(`token record of ${userId} not rewritten: ${(err as Error).message}`);
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

  /** The broker's refusal of this token, if any instance recorded one. Unknown counts as "not refused". */
  private rejectedMarker(userId: string, fingerprint: string): Promise<RejectedMarker | null> {
    return this.cache.read<RejectedMarker>(rejectedKey(userId, fingerprint)).then((r) => (r.state === 'hit' && typeof r.value?.reason === 'string' ? r.value : null));
  }

  private hint(userId: string, fingerprint: string): void {
    if (this.lastFingerprint.size >= 10_000 && !this.lastFingerprint.has(userId)) this.lastFingerprint.clear();
    this.lastFingerprint.set(userId, fingerprint);
  }

  /** One `expired` audit event per token, whichever instance notices first. */
  private async noticeExpired(userId: string, rec: StoredToken): Promise<void> {
    const key = expiredNoticeKey(userId, rec.fingerprint);
    if (this.expiredNoticed.has(key)) return;
    if (this.expiredNoticed.size > 10_000) this.expiredNoticed.clear();
    try {
      const claim = await this.cache.setIfAbsent(key, true, { expiresAt: keepUntil(rec) });
      // `unknown` (Redis unreachable): ask again on a later lookup rather than write a second event.
      if (claim.state === 'exists') this.expiredNoticed.add(key);
      if (claim.state !== 'claimed') return;
      this.expiredNoticed.add(key);
    } catch {
      return;
    }
    await this.audit(userId, {
      action: 'expired',
      actor: { who: 'token-store', source: 'store' },
      fingerprint: rec.fingerprint,
      detail: `past its expiry at ${istTime(rec.expiresAt)}`,
    });
  }

  private toView(userId: string, rec: StoredToken, version: string): TokenView {
    const now = this.clock.now();
    const expired = now >= rec.expiresAt;
    const times = recordTimes(rec);
    return {
      userId,
      status: rec.status === 'active' && expired ? 'expired' : rec.status,
      customerId: rec.customerId,
      loginId: rec.loginId,
      mask: rec.mask,
      fingerprint: rec.fingerprint,
      issuedAt: times.issuedAt,
      expiresAt: times.expiresAt,
      secondsLeft: Math.max(0, Math.floor((rec.expiresAt - now) / 1000)),
      tradingDay: rec.tradingDay,
      source: rec.source,
      submittedBy: rec.submittedBy,
      version,
      lastValidatedAt: times.lastValidatedAt,
      statusReason: rec.status === 'active' ? (expired ? `past its expiry at ${istTime(rec.expiresAt)}` : null) : rec.statusReason,
    };
  }

  private reportBroken(userId: string, version: string, fingerprint: string, err: TokenDecryptError): void {
    const id = `${userId}@${version}`;
    if (this.reportedBroken.has(id)) return;
    if (this.reportedBroken.size > 10_000) this.reportedBroken.clear();
    this.reportedBroken.add(id);
    // The key ring names the library option; the operator reads what the app calls it.
    const why = err.reason === 'unknown-key' ? `stored token was encrypted with a key id that is not in ${this.settings.nameOf('encryption.keys')}` : err.message;
    this.logger.warn(`token of ${userId} (${fingerprint}) is unusable: ${why}`);
    void this.audit(userId, { action: 'decrypt_failed', actor: { who: 'token-store', source: 'store' }, fingerprint, detail: why });
  }

  /** An append, never a read-modify-write: additions from every replica merge (docs/sharekhan.md). */
  private async addToIndex(userId: string): Promise<void> {
    if (this.indexed.has(userId)) return;
    try {
      await this.cache.appendLog(TOKEN_INDEX_KEY, userId, INDEX_LIMITS);
      this.indexed.add(userId);
    } catch (err) {
      this.logger.warn(`token index not updated: ${(err as Error).message}`);
    }
  }

  private async indexedUsers(): Promise<{ users: string[]; complete: boolean }> {
    if (!this.legacyIndexRead) await this.importLegacyIndex();
    const r = await this.cache.readLog<string>(TOKEN_INDEX_KEY, { order: 'oldest-first' });
    for (const e of r.entries) if (typeof e.value === 'string' && USER_ID_PATTERN.test(e.value)) this.indexed.add(e.value);
    return { users: [...this.indexed].sort(), complete: r.complete };
  }

  /** Once per process: users in the index value older versions kept (`{ users }` under the same name) join the log. */
  private async importLegacyIndex(): Promise<void> {
    const r = await this.cache.read<{ users?: unknown }>(TOKEN_INDEX_KEY);
    if (r.state === 'unavailable') return;
    this.legacyIndexRead = true;
    const users = r.state === 'hit' && Array.isArray(r.value?.users) ? r.value.users : [];
    for (const u of users) if (typeof u === 'string' && USER_ID_PATTERN.test(u)) await this.addToIndex(u);
  }
}

/** Thrown inside `cache.update` to write nothing: the record is not the one the change was meant for. */
class Unchanged extends Error {
  constructor(readonly current: unknown) {
    super('record changed meanwhile; not written');
  }
}

function unconfirmedReason(ms: number): string {
  const since = Number.isFinite(ms) ? `for ${Math.round(ms / 1000)} s` : 'since this instance started';
  return `held in this instance's memory only: Redis has not confirmed it ${since}, so a revoke made elsewhere may be missed; orders with it are refused until Redis is reachable again`;
}

/** Names exactly what decryption depends on besides the key ring: the user (associated data) and every sealed field. */
function sealedId(userId: string, sealed: SealedToken): string {
  return `${userId}|${sealed.kid}|${sealed.iv}|${sealed.tag}|${sealed.ct}`;
}

interface RecordTimes {
  issuedAt: string;
  expiresAt: string;
  lastValidatedAt: string | null;
}

/** Per record object: the cache hands out the same frozen object on every hit, so each status need not format its dates again. */
const timesOf = new WeakMap<StoredToken, RecordTimes>();

function recordTimes(rec: StoredToken): RecordTimes {
  let t = timesOf.get(rec);
  if (t !== undefined) return t;
  t = { issuedAt: iso(rec.issuedAt), expiresAt: iso(rec.expiresAt), lastValidatedAt: rec.lastValidatedAt === null ? null : iso(rec.lastValidatedAt) };
  // Only a frozen record (as the cache returns them) cannot change under the memo; one being built is formatted each time.
  if (Object.isFrozen(rec)) timesOf.set(rec, t);
  return t;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** How long the record stays in the cache: its expiry plus the time it is reported as `expired`. */
function keepUntil(rec: StoredToken): number {
  return rec.expiresAt + EXPIRED_RECORD_KEEP_MS;
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
