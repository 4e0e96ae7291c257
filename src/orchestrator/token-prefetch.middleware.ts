import { Inject, Injectable, Optional, type NestMiddleware } from '@nestjs/common';
import { API_KEY_HEADER, ApiKeyService } from '../auth/index.js';
import type { OrchestratorSettings } from './orchestrator.options.js';
import { ORCHESTRATOR_SETTINGS } from './orchestrator.tokens.js';
import { TokenResolver, type TokenResolution } from './token-resolver.js';
import { UserRegistry } from './user-registry.js';

const started = new WeakMap<object, { userId: string; token: Promise<TokenResolution> }>();

/** The token read this request's middleware started for `userId`, if any. */
export function prefetchedToken(req: object, userId: string): Promise<TokenResolution> | undefined {
  const p = started.get(req);
  return p?.userId === userId ? p.token : undefined;
}

/**
 * `POST /orchestrator/orders`: starts the token read of the order's user while the guard counts the
 * API rate limit, so the two Redis round trips overlap (docs/orchestrator.md, "Order latency").
 * Only for a valid key that may act on that user; the order itself still waits for both.
 */
@Injectable()
export class TokenPrefetchMiddleware implements NestMiddleware {
  constructor(
    private readonly users: UserRegistry,
    private readonly tokens: TokenResolver,
    @Inject(ORCHESTRATOR_SETTINGS) private readonly settings: OrchestratorSettings,
    @Optional() @Inject(ApiKeyService) private readonly keys: ApiKeyService | null = null,
  ) {}

  use(req: { body?: unknown; headers: Record<string, unknown> }, _res: unknown, next: () => void): void {
    const userId = (req.body as { userId?: unknown } | undefined)?.userId;
    const user = typeof userId === 'string' ? this.users.get(userId) : undefined;
    if (user && this.keys && (user.mode === 'live' || this.settings.paperRequiresToken)) {
      const caller = this.keys.authenticateRequest(req, req.headers[API_KEY_HEADER]);
      if (caller && ApiKeyService.mayActOn(caller, user.userId)) {
        const token = this.tokens.resolve(user);
        token.catch(() => undefined);
        started.set(req, { userId: user.userId, token });
      }
    }
    next();
  }
}
