import { hash, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { AUTH_SETTINGS, type ApiKeyScope, type AuthSettings } from './auth.options.js';

export const API_KEY_HEADER = 'x-api-key';

/** Who is calling: the key's name (for audit `who`) and what it may touch. Never the secret. */
export interface ApiCaller {
  name: string;
  scope: ApiKeyScope;
  admin: boolean;
}

interface KnownKey {
  caller: ApiCaller;
  digest: Buffer;
}

/** One-shot `hash`: half the cost of createHash().update().digest() for a key-sized input. */
const digest = (s: string) => hash('sha256', s, 'buffer');

/**
 * Matches a presented key against the configured ones in constant time: both sides are hashed
 * to equal length and every configured key is compared, so timing says nothing about how much
 * of a key was right or which key matched.
 */
@Injectable()
export class ApiKeyService {
  private readonly known: KnownKey[];
  private readonly perRequest = new WeakMap<object, { presented: unknown; caller: ApiCaller | null }>();

  constructor(@Inject(AUTH_SETTINGS) settings: Pick<AuthSettings, 'apiKeys'>) {
    this.known = settings.apiKeys.map((k) => ({
      caller: { name: k.name, scope: k.scope, admin: k.scope.kind === 'admin' },
      digest: digest(k.secret),
    }));
  }

  get configured(): boolean {
    return this.known.length > 0;
  }

  /**
   * `authenticate`, once per request: the rate limiter (which counts per key) and the guard both
   * ask, and the second asks for the same header value of the same request.
   */
  authenticateRequest(req: object, presented: unknown): ApiCaller | null {
    const seen = this.perRequest.get(req);
    if (seen !== undefined && seen.presented === presented) return seen.caller;
    const caller = this.authenticate(presented);
    this.perRequest.set(req, { presented, caller });
    return caller;
  }

  authenticate(presented: unknown): ApiCaller | null {
    if (typeof presented !== 'string' || presented.length === 0 || presented.length > 1024) return null;
    const d = digest(presented);
    let match: ApiCaller | null = null;
    for (const k of this.known) {
      if (timingSafeEqual(d, k.digest) && match === null) match = k.caller;
    }
    return match;
  }

  /** May this caller act on this user's data? */
  static mayActOn(caller: ApiCaller, userId: string): boolean {
    return caller.scope.kind === 'admin' || caller.scope.userId === userId;
  }
}
