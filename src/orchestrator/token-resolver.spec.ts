import { LIVE, PAPER, FakeTokenStore, SwitchableCache, settingsFor, staticTokensFor, viewOf } from '../../test/helpers/orchestrator-fakes.js';
import { TokenResolver, type ResolvedToken } from './token-resolver.js';

function setup(envTokens: [string, string][] = []) {
  const store = new FakeTokenStore();
  const cache = new SwitchableCache();
  const resolver = new TokenResolver(store, settingsFor([PAPER, LIVE]), staticTokensFor(cache, envTokens));
  return { store, cache, resolver };
}

describe('TokenResolver', () => {
  it('uses the store token of exactly that user and asks about no other id', async () => {
    const { store, resolver } = setup();
    store.put(LIVE.userId, 'live-token-aaaaaaaaaaaa');
    store.put(PAPER.userId, 'paper-token-bbbbbbbbbbb');
    const r = await resolver.resolve(LIVE);
    expect(r).toMatchObject({ ok: true, accessToken: 'live-token-aaaaaaaaaaaa', source: 'manual' });
    expect(store.lookups).toEqual([LIVE.userId]);
  });

  it('never uses a token stored under another id: missing, with the endpoint to submit one', async () => {
    const { store, resolver } = setup();
    store.put('MASTER_USER_01', 'near-miss-token-cccccccc');
    store.put('master_user_001', 'lower-case-token-dddddddd');
    const r = await resolver.resolve(LIVE);
    expect(r).toMatchObject({ ok: false, kind: 'missing' });
    expect(!r.ok && r.action).toContain('PUT /sharekhan/users/MASTER_USER_001/token');
    expect(store.lookups).toEqual([LIVE.userId]);
  });

  it('refuses a record whose view names another user (defence in depth)', async () => {
    const { store, resolver } = setup();
    store.answers.set(LIVE.userId, { kind: 'found', accessToken: 'other-user-token-eeee', view: viewOf(PAPER.userId, 'other-user-token-eeee') });
    expect(await resolver.resolve(LIVE)).toMatchObject({ ok: false });
  });

  it('falls back to the static env token when the store has none, reported as source env', async () => {
    const { resolver } = setup([[LIVE.userId, 'env-token-ffffffffffffff']]);
    const r = await resolver.resolve(LIVE);
    expect(r).toMatchObject({ ok: true, source: 'env', accessToken: 'env-token-ffffffffffffff', expiresAt: null });
    expect((r as ResolvedToken).mask).not.toContain('env-token');
  });

  it('uses the env token when the store is unavailable, and says unknown without one', async () => {
    const withEnv = setup([[LIVE.userId, 'env-token-gggggggggggggg']]);
    withEnv.store.override = { kind: 'unavailable' };
    expect(await withEnv.resolver.resolve(LIVE)).toMatchObject({ ok: true, source: 'env' });

    const without = setup();
    without.store.override = { kind: 'unavailable' };
    const r = await without.resolver.resolve(LIVE);
    expect(r).toMatchObject({ ok: false, kind: 'unavailable' });
    expect(!r.ok && r.message).toMatch(/cannot be read/);
  });

  it('treats a store that throws as unavailable', async () => {
    const { store, resolver } = setup();
    store.lookup = () => Promise.reject(new Error('boom'));
    expect(await resolver.resolve(LIVE)).toMatchObject({ ok: false, kind: 'unavailable' });
  });

  it('reports expired and invalid records without falling back to the env token', async () => {
    const { store, resolver } = setup([[LIVE.userId, 'env-token-hhhhhhhhhhhhhh']]);
    const past = new Date(Date.now() - 1000).toISOString();
    store.answers.set(LIVE.userId, { kind: 'expired', view: viewOf(LIVE.userId, 'x', { status: 'expired', expiresAt: past }) });
    const expired = await resolver.resolve(LIVE);
    expect(expired).toMatchObject({ ok: false, kind: 'expired', expiresAt: past });

    store.answers.set(LIVE.userId, { kind: 'invalid', view: viewOf(LIVE.userId, 'x', { status: 'invalid' }) });
    expect(await resolver.resolve(LIVE)).toMatchObject({ ok: false, kind: 'invalid' });
  });

  it('treats a found token past its expiry as expired', async () => {
    const { store, resolver } = setup();
    store.put(LIVE.userId, 'stale-token-iiiiiiiiiiii', { expiresAt: new Date(Date.now() - 5).toISOString() });
    expect(await resolver.resolve(LIVE)).toMatchObject({ ok: false, kind: 'expired' });
  });

  it('after a broker 403, marks the store token invalid with an audit event and refuses it locally', async () => {
    const { store, resolver } = setup();
    store.put(LIVE.userId, 'dead-token-jjjjjjjjjjjjj');
    const r = (await resolver.resolve(LIVE)) as ResolvedToken;
    // The store cannot be told (e.g. Redis down): the local mark still refuses the token.
    store.markInvalid = () => Promise.reject(new Error('store down'));
    await resolver.invalidate(LIVE, r, 'ShareKhan answered HTTP 403');
    expect(store.audits).toEqual([expect.objectContaining({ userId: LIVE.userId, action: 'token.rejected_by_broker', fingerprint: r.fingerprint })]);
    expect(await resolver.resolve(LIVE)).toMatchObject({ ok: false, kind: 'invalid' });

    store.put(LIVE.userId, 'fresh-token-kkkkkkkkkkkk');
    expect(await resolver.resolve(LIVE)).toMatchObject({ ok: true, accessToken: 'fresh-token-kkkkkkkkkkkk' });
  });

  it('after a broker 403 on the env token, refuses it here and on other instances sharing the cache', async () => {
    const { store, cache, resolver } = setup([[LIVE.userId, 'env-token-llllllllllllll']]);
    const r = (await resolver.resolve(LIVE)) as ResolvedToken;
    await resolver.invalidate(LIVE, r, '403');
    expect(store.invalidated).toEqual([]);
    expect(await resolver.resolve(LIVE)).toMatchObject({ ok: false, kind: 'invalid', source: 'env' });

    const other = new TokenResolver(store, settingsFor([LIVE]), staticTokensFor(cache, [[LIVE.userId, 'env-token-llllllllllllll']]));
    expect(await other.resolve(LIVE)).toMatchObject({ ok: false, kind: 'invalid' });
  });
});
