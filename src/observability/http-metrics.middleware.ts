import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { MetricsService } from './metrics.service.js';

/** Label for requests no route matched (404s, bodies rejected before routing). */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * The route a request matched, as its pattern (`/users/:userId/token`), never the raw URL: ids in
 * a label would make one time series per user and leak them into the metrics store.
 */
export function routePattern(req: Request): string {
  const route = req.route as { path?: unknown; methods?: Record<string, boolean> } | undefined;
  if (typeof route?.path !== 'string') return UNMATCHED_ROUTE;
  // Nest mounts middleware as wildcard routes for every method (`app.all`); a request that matched
  // only those (a 404) still carries one in req.route.
  const everyMethod = Object.keys(route.methods ?? {}).length > 2;
  if (everyMethod && route.path.includes('*')) return UNMATCHED_ROUTE;
  return `${req.baseUrl ?? ''}${route.path}` || '/';
}

@Injectable()
export class HttpMetricsMiddleware implements NestMiddleware {
  constructor(private readonly metrics: MetricsService) {}

  use(req: Request, res: Response, next: NextFunction): void {
    const start = process.hrtime.bigint();
    let done = false;
    const record = () => {
      if (done) return;
      done = true;
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      this.metrics.observeHttp(req.method, routePattern(req), res.statusCode, seconds);
    };
    res.once('finish', record);
    // A client that hangs up early still counts, with the status we had set by then.
    res.once('close', record);
    next();
  }
}
