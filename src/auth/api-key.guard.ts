import { InvalidRequestException } from '../common/invalid-request.exception.js';
import {
  ForbiddenException,
  Injectable,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { USER_ID_PATTERN } from '../common/user-id.js';
import { API_KEY_HEADER, ApiKeyService, type ApiCaller } from './api-key.service.js';

export const ACCESS_RULE = Symbol('api-key-access-rule');

/** Set by `@ApiKeyAuth()`: admin-only, or the route param holding the user id a user-scoped key must own. */
export interface AccessRule {
  adminOnly?: boolean;
  userParam?: string;
}

const CALLER = Symbol('api-caller');
type RequestWithCaller = Request & { [CALLER]?: ApiCaller };

/** The caller the guard authenticated on this request (undefined on unguarded routes). Any request object: the package's types need no @types/express. */
export function getApiCaller(req: object): ApiCaller | undefined {
  return (req as RequestWithCaller)[CALLER];
}

/**
 * 401 without a valid `x-api-key`; 403 when a user-scoped key asks for another user's id or an
 * admin-only route. The user id is checked here, before any handler, so a handler never even
 * sees a request for a user the key does not own.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  /** A handler's rule, looked up once: route metadata does not change after start-up. */
  private readonly rules = new WeakMap<object, { cls: object; rule: AccessRule | undefined }>();

  constructor(
    private readonly keys: ApiKeyService,
    private readonly reflector: Reflector,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<RequestWithCaller>();
    const presented = req.headers[API_KEY_HEADER];
    const caller = this.keys.authenticateRequest(req, presented);
    if (!caller) {
      throw new UnauthorizedException(
        presented === undefined || presented === ''
          ? `Missing API key: send it in the ${API_KEY_HEADER} header`
          : `Invalid API key in the ${API_KEY_HEADER} header`,
      );
    }
    req[CALLER] = caller;
    const rule = this.ruleOf(context);
    if (rule?.adminOnly && !caller.admin) {
      throw new ForbiddenException(`This endpoint needs an admin API key; key "${caller.name}" is scoped to one user`);
    }
    if (rule?.userParam) {
      const userId = req.params?.[rule.userParam];
      if (typeof userId !== 'string' || !USER_ID_PATTERN.test(userId)) {
        throw new InvalidRequestException([{ field: rule.userParam, problem: 'must be 1-64 characters A-Z, 0-9 or _ (e.g. PAPER_TRADER_001)' }]);
      }
      if (!ApiKeyService.mayActOn(caller, userId)) {
        throw new ForbiddenException(`API key "${caller.name}" may act only on its own user, not on ${userId}`);
      }
    }
    return true;
  }

  private ruleOf(context: ExecutionContext): AccessRule | undefined {
    const handler = context.getHandler();
    const cls = context.getClass();
    const known = this.rules.get(handler);
    // One handler may serve several controller classes (inheritance), each with its own class-level rule.
    if (known !== undefined && known.cls === cls) return known.rule;
    const rule = this.reflector.getAllAndOverride<AccessRule | undefined>(ACCESS_RULE, [handler, cls]);
    this.rules.set(handler, { cls, rule });
    return rule;
  }
}
