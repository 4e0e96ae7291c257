import { ForbiddenException, UnauthorizedException, BadRequestException, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ConfigError, loadConfig } from '../config/load-config.js';
import { ACCESS_RULE, ApiKeyGuard, getApiCaller, type AccessRule } from './api-key.guard.js';
import { ApiKeyService } from './api-key.service.js';
import { throttlerOptions } from './auth.module.js';
import { resolveAuthOptions } from './auth.options.js';
import type { CacheThrottlerStorage } from './cache-throttler.storage.js';

type ThrottlerModuleOptionsObject = Extract<ReturnType<typeof throttlerOptions>, { throttlers: unknown }>;

const ADMIN = 'admin-secret-0123456789abcdef';
const USER = 'user-a-secret-0123456789abcdef';
const env = (apiKeys: string) => ({ NODE_ENV: 'test', API_KEYS: apiKeys });

describe('API_KEYS parsing', () => {
  it('parses name:scope:secret entries (secrets may contain colons)', () => {
    const cfg = loadConfig(env(`ops:admin:${ADMIN}, ua:USER_A:${USER}:x`));
    expect(cfg.auth.apiKeys).toEqual([
      { name: 'ops', scope: 'admin', secret: ADMIN },
      { name: 'ua', scope: 'USER_A', secret: `${USER}:x` },
    ]);
  });

  it.each([
    ['ops-admin-no-colons', /entry 1 to be name:scope:secret/],
    [`ops:Admin:${ADMIN}`, /scope admin in lower case \(Admin is neither admin nor allowed as a user id\)/],
    [`ops:ADMIN:${ADMIN}`, /entry 1 \(ops\) to have scope admin in lower case \(ADMIN is neither/],
    [`ops:user-a:${ADMIN}`, /scope admin or a user id/],
    ['ops:admin:short', /at least 16 characters/],
    [`ops:admin:${ADMIN},ops:USER_A:${USER}`, /name not used before/],
    [`ops:admin:${ADMIN},ua:USER_A:${ADMIN}`, /its own secret/],
    // Name and secret swapped: the "name" is the secret, so the entry is named by position only.
    [`${ADMIN}:admin:ops`, /entry 1 to have a secret of at least 16 characters/],
    [`${ADMIN}:admin:ops,${ADMIN}:USER_A:ua`, /entry 2 to have a name not used before\b(?! \()/],
  ])('refuses %s with a message naming API_KEYS and hiding the value', (value, message) => {
    let err: unknown;
    try {
      loadConfig(env(value));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const text = (err as Error).message;
    expect(text).toMatch(/API_KEYS=\(hidden, \d+ characters\)/);
    expect(text).toMatch(message);
    expect(text).not.toContain(ADMIN);
    expect(text).not.toContain(USER);
  });
});

describe('ApiKeyService', () => {
  const keys = new ApiKeyService(resolveAuthOptions(loadConfig(env(`ops:admin:${ADMIN},ua:USER_A:${USER}`)).auth));

  it('authenticates exact keys only', () => {
    expect(keys.authenticate(ADMIN)).toMatchObject({ name: 'ops', admin: true });
    expect(keys.authenticate(USER)).toMatchObject({ name: 'ua', admin: false });
    expect(keys.authenticate(`${ADMIN} `)).toBeNull();
    expect(keys.authenticate(ADMIN.slice(0, -1))).toBeNull();
    expect(keys.authenticate(undefined)).toBeNull();
    expect(keys.authenticate(['a', 'b'])).toBeNull();
    expect(keys.authenticate('x'.repeat(5000))).toBeNull();
  });

  it('scopes: admin on anyone, user key on its own user only', () => {
    const ua = keys.authenticate(USER)!;
    expect(ApiKeyService.mayActOn(ua, 'USER_A')).toBe(true);
    expect(ApiKeyService.mayActOn(ua, 'USER_B')).toBe(false);
    expect(ApiKeyService.mayActOn(keys.authenticate(ADMIN)!, 'USER_B')).toBe(true);
  });
});

describe('ApiKeyGuard', () => {
  const keys = new ApiKeyService(resolveAuthOptions(loadConfig(env(`ops:admin:${ADMIN},ua:USER_A:${USER}`)).auth));
  const guard = new ApiKeyGuard(keys, new Reflector());

  function context(headers: Record<string, string>, params: Record<string, string>, rule?: AccessRule) {
    const req = { headers, params };
    const handler = () => undefined;
    if (rule) Reflect.defineMetadata(ACCESS_RULE, rule, handler);
    const ctx = {
      switchToHttp: () => ({ getRequest: () => req }),
      getHandler: () => handler,
      getClass: () => class {},
    } as unknown as ExecutionContext;
    return { ctx, req };
  }

  it('401 without or with a wrong key, with a message saying which', () => {
    expect(() => guard.canActivate(context({}, {}).ctx)).toThrow(UnauthorizedException);
    expect(() => guard.canActivate(context({}, {}).ctx)).toThrow(/Missing API key/);
    expect(() => guard.canActivate(context({ 'x-api-key': 'nope' }, {}).ctx)).toThrow(/Invalid API key/);
  });

  it('403 for another user id or an admin-only route; 400 for a malformed id', () => {
    const rule = { userParam: 'userId' };
    expect(() => guard.canActivate(context({ 'x-api-key': USER }, { userId: 'USER_B' }, rule).ctx)).toThrow(ForbiddenException);
    expect(() => guard.canActivate(context({ 'x-api-key': USER }, { userId: 'user_a' }, rule).ctx)).toThrow(BadRequestException);
    expect(() => guard.canActivate(context({ 'x-api-key': USER }, {}, { adminOnly: true }).ctx)).toThrow(/admin API key/);
    const ok = context({ 'x-api-key': USER }, { userId: 'USER_A' }, rule);
    expect(guard.canActivate(ok.ctx)).toBe(true);
    expect(getApiCaller(ok.req as never)?.name).toBe('ua');
    expect(guard.canActivate(context({ 'x-api-key': ADMIN }, { userId: 'USER_B' }, rule).ctx)).toBe(true);
  });
});

describe('ApiKeyGuard access rules', () => {
  it('a handler shared by two controller classes keeps each class its own rule, looked up once per pair', () => {
    const keys = new ApiKeyService(resolveAuthOptions(loadConfig(env(`ops:admin:${ADMIN},ua:USER_A:${USER}`)).auth));
    const reflector = new Reflector();
    const lookups = vi.spyOn(reflector, 'getAllAndOverride');
    const guard = new ApiKeyGuard(keys, reflector);
    const handler = () => undefined;
    class Open {}
    class AdminOnly {}
    Reflect.defineMetadata(ACCESS_RULE, { adminOnly: true }, AdminOnly);
    const ctx = (cls: object) =>
      ({ switchToHttp: () => ({ getRequest: () => ({ headers: { 'x-api-key': USER }, params: {} }) }), getHandler: () => handler, getClass: () => cls }) as unknown as ExecutionContext;
    for (let i = 0; i < 3; i++) {
      expect(guard.canActivate(ctx(Open))).toBe(true);
      expect(() => guard.canActivate(ctx(AdminOnly))).toThrow(ForbiddenException);
    }
    lookups.mockClear();
    // A stable handler and class: looked up once, then remembered.
    for (let i = 0; i < 3; i++) expect(guard.canActivate(ctx(Open))).toBe(true);
    expect(lookups).toHaveBeenCalledTimes(1);
  });
});

describe('one key check per request', () => {
  it('the rate limiter and the guard share it; another header value is checked again', () => {
    const settings = resolveAuthOptions(loadConfig(env(`ops:admin:${ADMIN},ua:USER_A:${USER}`)).auth);
    const keys = new ApiKeyService(settings);
    const check = vi.spyOn(keys, 'authenticate');
    const getTracker = (throttlerOptions(settings, {} as CacheThrottlerStorage, keys) as ThrottlerModuleOptionsObject).getTracker!;
    const guard = new ApiKeyGuard(keys, new Reflector());
    const req = { headers: { 'x-api-key': USER }, params: { userId: 'USER_A' } };
    const ctx = { switchToHttp: () => ({ getRequest: () => req }), getHandler: () => () => undefined, getClass: () => class {} } as unknown as ExecutionContext;
    expect(getTracker(req, ctx)).toBe('key:ua');
    expect(guard.canActivate(ctx)).toBe(true);
    expect(check).toHaveBeenCalledTimes(1);
    req.headers['x-api-key'] = 'not-a-key-at-all';
    expect(() => guard.canActivate(ctx)).toThrow(UnauthorizedException);
    expect(check).toHaveBeenCalledTimes(2);
  });
});

describe('AuthModule options', () => {
  it('refuses ADMIN as a scope (neither admin nor a user called ADMIN), naming the option', () => {
    expect(() => resolveAuthOptions({ apiKeys: [{ name: 'ops', scope: 'ADMIN', secret: ADMIN }] })).toThrow(
      /Invalid AuthModule options: apiKeys\.0\.scope \(wants scope admin in lower case/,
    );
    expect(resolveAuthOptions({ apiKeys: [{ name: 'ops', scope: 'admin', secret: ADMIN }] }).apiKeys[0].scope).toEqual({ kind: 'admin' });
  });

  it('never echoes a secret in an options error', () => {
    let message = '';
    try {
      resolveAuthOptions({ apiKeys: [{ name: 'ops', scope: 'admin', secret: 'short-secret' }] });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/apiKeys\.0\.secret \(wants a secret of at least 16 characters\)/);
    expect(message).not.toContain('short-secret');
  });
});
