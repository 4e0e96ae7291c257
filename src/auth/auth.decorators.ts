import { SetMetadata, UseGuards, applyDecorators, createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { ADMIN_ONLY, ApiErrorResponses, ApiKeyProtected, ApiUserIdParam, NOT_OWN_USER } from '../common/openapi.js';
import { ApiKeyAuthGuard, RateLimitGuard } from './api-key-auth.guard.js';
import { ACCESS_RULE, getApiCaller, type AccessRule } from './api-key.guard.js';

/**
 * Rate limit, then API key. `userParam` names the route param a user-scoped key must own
 * (e.g. `@ApiKeyAuth({ userParam: 'userId' })`); `adminOnly` refuses user-scoped keys.
 */
export function ApiKeyAuth(rule: AccessRule = {}) {
  return applyDecorators(
    SetMetadata(ACCESS_RULE, rule),
    UseGuards(ApiKeyAuthGuard),
    // OpenAPI: the x-api-key scheme, its 401 and 429 answers, and the 403 this rule can give.
    ApiKeyProtected(rule.adminOnly ? ADMIN_ONLY : rule.userParam ? NOT_OWN_USER : undefined),
    ApiErrorResponses(429),
    ...(rule.userParam ? [ApiUserIdParam(rule.userParam)] : []),
  );
}

/** Rate limit only, for routes whose credential is something else (the login callback's state). */
export function RateLimited() {
  return applyDecorators(UseGuards(RateLimitGuard), ApiErrorResponses(429));
}

/** Handler parameter: the authenticated `ApiCaller`. */
export const Caller = createParamDecorator((_data: unknown, ctx: ExecutionContext) =>
  getApiCaller(ctx.switchToHttp().getRequest<Request>()),
);

/** Handler parameter: `{ who, clientAddress }` for audit events. */
export const CallerIdentity = createParamDecorator((_data: unknown, ctx: ExecutionContext) =>
  callerIdentity(ctx.switchToHttp().getRequest<Request>()),
);

/** What `callerIdentity` reads from a request (Express' has it), so the package's types need no @types/express. */
export interface CallerRequest {
  ip?: string;
  socket?: { remoteAddress?: string };
}

export function callerIdentity(req: CallerRequest): { who: string; clientAddress: string | undefined } {
  return { who: getApiCaller(req)?.name ?? 'anonymous', clientAddress: req.ip ?? req.socket?.remoteAddress };
}
