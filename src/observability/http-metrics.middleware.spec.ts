import type { Request } from 'express';
import { UNMATCHED_ROUTE, routePattern } from './http-metrics.middleware.js';

const req = (route: unknown, baseUrl = '') => ({ route, baseUrl }) as unknown as Request;
const every = Object.fromEntries(['get', 'post', 'put', 'delete', 'patch'].map((m) => [m, true]));

describe('routePattern', () => {
  it('is the matched pattern, never the URL with its ids', () => {
    expect(routePattern(req({ path: '/sharekhan/users/:userId/token', methods: { put: true } }))).toBe('/sharekhan/users/:userId/token');
    expect(routePattern(req({ path: '/token', methods: { get: true } }, '/v1'))).toBe('/v1/token');
  });

  it('is `unmatched` without a route or when only a catch-all middleware mount matched', () => {
    expect(routePattern(req(undefined))).toBe(UNMATCHED_ROUTE);
    expect(routePattern(req({ path: '{/*splat}', methods: every }))).toBe(UNMATCHED_ROUTE);
  });
});
