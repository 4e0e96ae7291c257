import { Logger, type ArgumentsHost } from '@nestjs/common';
import { CacheClockNotSyncedError, CacheUnavailableError } from '../cache/index.js';
import { DomainError } from './domain-error.js';
import { DomainErrorFilter, HttpErrorFilter } from './http-error.filter.js';

/** Runs a filter on one error and returns the status and body it answered with. */
function answer(filter: HttpErrorFilter, err: unknown): { status: number; body: Record<string, unknown> } {
  const out = { status: 0, body: {} as Record<string, unknown> };
  const res = { headersSent: false, setHeader: () => res, status: (s: number) => ((out.status = s), res), json: (b: Record<string, unknown>) => ((out.body = b), res) };
  const req = { method: 'POST', path: '/x', route: { path: '/x' } };
  const host = { switchToHttp: () => ({ getResponse: () => res, getRequest: () => req }) } as unknown as ArgumentsHost;
  filter.catch(err, host);
  return out;
}

describe('errors at the edge: a code, and a table that says its status', () => {
  beforeEach(() => vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined));
  afterEach(() => vi.restoreAllMocks());

  it("the cache's codes answer what they mean under the app's filter and under a module's own", () => {
    for (const filter of [new HttpErrorFilter(), new DomainErrorFilter({ TOKEN_NOT_FOUND: 404 })]) {
      expect(answer(filter, new CacheUnavailableError('Redis cannot be asked; retry shortly'))).toMatchObject({ status: 503, body: { code: 'CACHE_UNAVAILABLE' } });
      expect(answer(filter, new CacheClockNotSyncedError('not synced'))).toMatchObject({ status: 503, body: { code: 'CACHE_CLOCK_NOT_SYNCED' } });
    }
  });

  it("the app's filter holds every module's table: a module's error escaping through another module's route keeps its status", () => {
    const app = new HttpErrorFilter({ TOKEN_NOT_FOUND: 404 }, { BROKER_TIMEOUT: 504 });
    expect(answer(app, new DomainError('TOKEN_NOT_FOUND', 'No token stored for USER_A'))).toMatchObject({ status: 404, body: { code: 'TOKEN_NOT_FOUND' } });
    expect(answer(app, new DomainError('BROKER_TIMEOUT', 'ShareKhan did not answer in time'))).toMatchObject({ status: 504 });
    expect(answer(new HttpErrorFilter(), new DomainError('TOKEN_NOT_FOUND', 'x')).status).toBe(500);
  });

  it("a module's table maps its codes; a code no table knows is a logged 500 that says nothing of it", () => {
    const filter = new DomainErrorFilter({ TOKEN_NOT_FOUND: 404 });
    expect(answer(filter, new DomainError('TOKEN_NOT_FOUND', 'No token stored for USER_A'))).toEqual({
      status: 404,
      body: { statusCode: 404, error: 'Not Found', message: 'No token stored for USER_A', code: 'TOKEN_NOT_FOUND' },
    });
    const unknown = answer(filter, new DomainError('SOMETHING_NEW', 'secret detail'));
    expect(unknown.status).toBe(500);
    expect(JSON.stringify(unknown.body)).not.toContain('secret detail');
  });
});
