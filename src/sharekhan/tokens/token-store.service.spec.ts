import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { firstValueFrom, filter, timeout } from 'rxjs';
import { CacheConflictError, CacheService } from '../../cache/index.js';
import { useChaosCache } from '../../../test/cache/fixtures.js';
import { loadConfig } from '../../config/load-config.js';
import { resolveShareKhanOptions } from '../sharekhan.options.js';
import { TokenAuditLog } from './token-audit.service.js';
import { TokenClock } from './token-clock.js';
import { TokenKeyRing } from './token-crypto.js';
import { RevokeNotConfirmedError } from './revoke-not-confirmed.error.js';
import { ShareKhanTokenStore, TOKEN_INDEX_KEY, tokenKey } from './token-store.service.js';

const K1 = randomBytes(32).toString('base64');
const K2 = randomBytes(32).toString('base64');
const TOKEN = 'live-access-token-7f3a9c1d2e4b5a6f';
const actor = { who: 'ops-admin', source: 'api', clientAddress: '10.0.0.1' };

/** A fixed instant far enough ahead that the cache (on the real clock) accepts every expiry. */
const T0 = Date.parse('2030-03-04T04:30:00Z'); // 10:00 IST

function build(env: Record<string, string> = {}, cache = new CacheService({ redis: null })) {
  const env_ = loadConfig({ NODE_ENV: 'test', TOKEN_ENCRYPTION_KEYS: `k1:${K1}`, ...env });
  const config = resolveShareKhanOptions({ ...env_.sharekhan, audit: { maxEvents: 10 } });
  const clock = new TokenClock();
  let now = T0;
  vi.spyOn(clock, 'now').mockImplementation(() => now);
  const ring = TokenKeyRing.fromBase64(config.encryption.keys, config.encryption.activeKeyId);
  const audit = new TokenAuditLog(cache, clock, config);
  const store = new ShareKhanTokenStore(cache, ring, clock, audit, config);
  return { store, cache, setNow: (t: number) => (now = t) };
}

describe('ShareKhanTokenStore', () => {
  beforeAll(() => Logger.overrideLogger(false));
  afterAll(() => Logger.overrideLogger(['log', 'error', 'warn']));

  it('stores ciphertext only and finds the token for exactly that user', async () => {
    const { store, cache } = build();
    const { view } = await store.submit('USER_A', { accessToken: TOKEN, customerId: 'C100', source: 'manual', actor });
    expect(view).toMatchObject({ userId: 'USER_A', status: 'active', customerId: 'C100', source: 'manual', submittedBy: 'ops-admin', tradingDay: '2030-03-04' });
    expect(view.expiresAt).toBe('2030-03-05T00:30:00.000Z');
    expect(JSON.stringify(view)).not.toContain(TOKEN);
    expect(JSON.stringify(await cache.get(tokenKey('USER_A')))).not.toContain(TOKEN);

    const found = await store.lookup('USER_A');
    expect(found.kind).toBe('found');
    expect(found.kind === 'found' && found.accessToken).toBe(TOKEN);
    expect((await store.lookup('USER_B')).kind).toBe('missing');
    expect((await store.lookup('user_a' as string).catch((e: Error) => e)) instanceof Error).toBe(true);
  });

  it('is expired at the IST cut-off, never served past it', async () => {
    const { store, setNow } = build();
    await store.submit('USER_A', { accessToken: TOKEN, source: 'manual', actor });
    setNow(Date.parse('2030-03-05T00:29:59.999Z'));
    expect((await store.lookup('USER_A')).kind).toBe('found');
    setNow(Date.parse('2030-03-05T00:30:00.000Z'));
    const after = await store.lookup('USER_A');
    expect(after.kind).toBe('expired');
    expect(after.kind === 'expired' && after.view).toMatchObject({ status: 'expired', secondsLeft: 0 });
  });

  it('a record copied under another user key does not decrypt (and is reported)', async () => {
    const { store, cache } = build();
    await store.submit('USER_A', { accessToken: TOKEN, source: 'manual', actor });
    const rec = (await cache.get<Record<string, unknown>>(tokenKey('USER_A')))!;
    await cache.set(tokenKey('USER_B'), { ...rec, userId: 'USER_B' }, { expiresAt: rec.expiresAt as number });
    const moved = await store.lookup('USER_B');
    expect(moved.kind).toBe('invalid');
    const { events } = await store.auditEvents('USER_B');
    expect(events[0]).toMatchObject({ action: 'decrypt_failed' });
  });

  it('a status decrypts a sealed token once; altered ciphertext or another user is decrypted (and refused) again', async () => {
    const { store, cache } = build();
    const ring = (store as unknown as { keyRing: TokenKeyRing }).keyRing;
    const open = vi.spyOn(ring, 'open');
    await store.submit('USER_A', { accessToken: TOKEN, source: 'manual', actor });
    expect((await store.status('USER_A')).state).toBe('present');
    expect((await store.status('USER_A')).state).toBe('present');
    expect(open).toHaveBeenCalledTimes(1);
    // Trading still decrypts every time: the token text is never kept.
    expect((await store.lookup('USER_A')).kind).toBe('found');
    expect(open).toHaveBeenCalledTimes(2);
    const rec = (await cache.get<{ sealed: { ct: string }; expiresAt: number }>(tokenKey('USER_A')))!;
    const ct = Buffer.from(rec.sealed.ct, 'base64');
    ct[0] ^= 1;
    await cache.set(tokenKey('USER_A'), { ...rec, sealed: { ...rec.sealed, ct: ct.toString('base64') } }, { expiresAt: rec.expiresAt });
    const altered = await store.status('USER_A');
    expect(altered.state === 'present' && altered.view.status).toBe('invalid');
    await cache.set(tokenKey('USER_B'), { ...rec, userId: 'USER_B' }, { expiresAt: rec.expiresAt });
    const moved = await store.status('USER_B');
    expect(moved.state === 'present' && moved.view.status).toBe('invalid');
    expect(open).toHaveBeenCalledTimes(4);
  });

  it('key rotation: old records still open after a new active key, new ones use it', async () => {
    const cache = new CacheService({ redis: null });
    const before = build({}, cache);
    await before.store.submit('USER_A', { accessToken: TOKEN, source: 'manual', actor });
    const rotated = build({ TOKEN_ENCRYPTION_KEYS: `k2:${K2},k1:${K1}` }, cache);
    const old = await rotated.store.lookup('USER_A');
    expect(old.kind === 'found' && old.accessToken).toBe(TOKEN);
    await rotated.store.submit('USER_B', { accessToken: `${TOKEN}-b`, source: 'manual', actor });
    expect(((await cache.get<{ sealed: { kid: string } }>(tokenKey('USER_B')))!).sealed.kid).toBe('k2');
    const withoutK1 = build({ TOKEN_ENCRYPTION_KEYS: `k2:${K2}` }, cache);
    expect((await withoutK1.store.lookup('USER_A')).kind).toBe('invalid');
    const b = await withoutK1.store.lookup('USER_B');
    expect(b.kind === 'found' && b.accessToken).toBe(`${TOKEN}-b`);
  });

  it('markInvalid refuses exactly the rejected token; revoke drops the token text; both leave a status', async () => {
    const { store } = build();
    const first = await store.submit('USER_A', { accessToken: TOKEN, source: 'manual', actor });
    await store.markInvalid('USER_A', first.view.fingerprint, 'broker said 403', { who: 'orchestrator', source: 'orchestrator' });
    const inv = await store.lookup('USER_A');
    expect(inv.kind).toBe('invalid');
    const st = await store.status('USER_A');
    expect(st.state === 'present' && st.reason).toBe('broker said 403');
    // A newer token is untouched by a late refusal of the old one.
    await store.submit('USER_A', { accessToken: `${TOKEN}-2`, source: 'manual', actor });
    await store.markInvalid('USER_A', first.view.fingerprint, 'late 403', { who: 'orchestrator', source: 'orchestrator' });
    const newer = await store.lookup('USER_A');
    expect(newer.kind === 'found' && newer.accessToken).toBe(`${TOKEN}-2`);

    await store.submit('USER_B', { accessToken: TOKEN, source: 'manual', actor });
    // Without Redis, memory is the only copy there is: the revoke is confirmed (200), not pending.
    expect(await store.revoke('USER_B', actor)).toMatchObject({ revoked: true, confirmed: true });
    const rev = await store.lookup('USER_B');
    expect(rev.kind === 'invalid' && rev.view.status).toBe('revoked');
    expect(rev.kind === 'invalid' && rev.view.statusReason).toMatch(/^revoked by ops-admin at 2030-\d\d-\d\d \d\d:\d\d:\d\d IST$/);
    expect(await store.revoke('USER_B', actor)).toMatchObject({ revoked: false, state: 'already_revoked', confirmed: true });
    expect(await store.revoke('USER_C', actor)).toMatchObject({ revoked: false, state: 'missing' });
  });

  it('memory mode: a refusal recorded while a status is being read is seen by every later status and lookup', async () => {
    const { store, cache } = build();
    const { view } = await store.submit('USER_A', { accessToken: TOKEN, source: 'manual', actor });
    // The status' marker read answers "none" before the refusal is written and returns only after it.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const read = cache.read.bind(cache);
    const spy = vi.spyOn(cache, 'read').mockImplementation(<T>(key: string) => {
      const r = read<T>(key);
      return key.startsWith('sharekhan:token-rejected:') ? r.then((v) => held.then(() => v)) : r;
    });
    const during = store.status('USER_A');
    await new Promise((r) => setImmediate(r));
    await store.markInvalid('USER_A', view.fingerprint, 'broker said 403', { who: 'orchestrator', source: 'orchestrator' });
    release();
    expect((await during).state).toBe('present');
    spy.mockRestore();
    const after = await store.status('USER_A');
    expect(after.state === 'present' && after.view.status).toBe('invalid');
    expect(after.state === 'present' && after.reason).toBe('broker said 403');
    expect((await store.lookup('USER_A')).kind).toBe('invalid');
  });

  it('a status shows the dates of the record it read, also after the record changed', async () => {
    const { store, setNow } = build();
    const { view } = await store.submit('USER_A', { accessToken: TOKEN, source: 'manual', actor });
    const first = await store.status('USER_A');
    expect(first.state === 'present' && first.view.lastValidatedAt).toBeNull();
    setNow(T0 + 60_000);
    await store.markValidated('USER_A', view.fingerprint, actor);
    const second = await store.status('USER_A');
    expect(second.state === 'present' && second.view.lastValidatedAt).toBe(new Date(T0 + 60_000).toISOString());
    expect(second.state === 'present' && second.view.issuedAt).toBe(new Date(T0).toISOString());
  });

  it('a validation while Redis cannot be used stamps nothing: no journaled rewrite that could replay over a revoke made elsewhere', async () => {
    const { cache, gateway } = await useChaosCache();
    gateway.up();
    await firstValueFrom(cache.mode$.pipe(filter((m) => m === 'redis'), timeout(2_000)));
    const { store } = build({}, cache);
    const { view } = await store.submit('USER_A', { accessToken: TOKEN, source: 'manual', actor });
    gateway.down();
    const journaled = cache.getStatus().journalSize;
    await store.markValidated('USER_A', view.fingerprint, actor);
    expect(cache.getStatus().journalSize - journaled).toBeLessThanOrEqual(1); // the audit event only, never the record
    const held = (await cache.read<{ lastValidatedAt: number | null }>(tokenKey('USER_A'))).value;
    expect(held?.lastValidatedAt ?? null).toBeNull();
  });

  it('a revoke the cache cannot write safely is a typed error (503 at the edge), not a 500 and not a silent success', async () => {
    const { store, cache } = build();
    await store.submit('USER_A', { accessToken: TOKEN, source: 'manual', actor });
    // Unit-level stand-in for "Redis went away after the read / writers kept winning".
    vi.spyOn(cache, 'update').mockRejectedValueOnce(new CacheConflictError('lost', 5));
    const err = await store.revoke('USER_A', actor).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RevokeNotConfirmedError);
    expect((err as RevokeNotConfirmedError).code).toBe('REVOKE_NOT_CONFIRMED');
    expect((await store.lookup('USER_A')).kind).toBe('found');
  });

  it('lists users from the index, never by scanning', async () => {
    const { store } = build();
    await store.submit('USER_B', { accessToken: TOKEN, source: 'manual', actor });
    await store.submit('USER_A', { accessToken: TOKEN, source: 'manual', actor });
    await store.submit('USER_A', { accessToken: `${TOKEN}2`, source: 'manual', actor });
    const { users, complete } = await store.list();
    expect(complete).toBe(true);
    expect(users.map((u) => u.userId)).toEqual(['USER_A', 'USER_B']);
  });

  it('users of the index value older versions kept are listed (imported into the append log once)', async () => {
    const { store, cache } = build();
    await cache.set(TOKEN_INDEX_KEY, { users: ['USER_OLD', 'bad id'] });
    await store.submit('USER_A', { accessToken: TOKEN, source: 'manual', actor });
    expect((await store.list()).users.map((u) => u.userId)).toEqual(['USER_A', 'USER_OLD']);
    expect((await cache.readLog<string>(TOKEN_INDEX_KEY)).entries.map((e) => e.value).sort()).toEqual(['USER_A', 'USER_OLD']);
  });

  it('audit: newest first, capped, no token text', async () => {
    const { store, setNow } = build();
    for (let i = 0; i < 12; i++) {
      setNow(T0 + i * 1000);
      await store.submit('USER_A', { accessToken: `${TOKEN}-${i}`, source: 'manual', actor });
    }
    await store.audit('USER_A', { action: 'custom', actor, detail: 'line1\nline2' });
    const { events, complete } = await store.auditEvents('USER_A');
    expect(complete).toBe(true);
    expect(events).toHaveLength(10);
    expect(events[0]).toMatchObject({ action: 'custom', detail: 'line1 line2', who: 'ops-admin', clientAddress: '10.0.0.1' });
    expect(events[1]).toMatchObject({ action: 'submitted', source: 'api' });
    expect(events[1].fingerprint).toMatch(/^sha256:/);
    expect(JSON.stringify(events)).not.toContain(TOKEN);
  });
});
