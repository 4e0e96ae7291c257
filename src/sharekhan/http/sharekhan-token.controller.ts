import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  Optional,
  Param,
  Put,
  Post,
  Query,
  Req,
  Res,
  ServiceUnavailableException,
  UseFilters,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrorResponses, ApiOkBody, ApiZodBody, BAD_CALLBACK_QUERY, BAD_TOKEN_BODY, type ErrorCase } from '../../common/openapi.js';
import { ApiKeyAuth, Caller, CallerIdentity, RateLimited, type ApiCaller } from '../../auth/index.js';
import { DomainError } from '../../common/domain-error.js';
import { DomainErrorFilter } from '../../common/http-error.filter.js';
import { UserIdPipe } from '../../common/user-id.pipe.js';
import { ZodValidationPipe } from '../../common/zod-validation.pipe.js';
import { LOGIN_BROWSER_RETURN, type LoginBrowserReturn } from '../login/login-browser-return.js';
import { auditEventFor } from '../tokens/audit-visibility.js';
import { RevokeNotConfirmedError } from '../tokens/revoke-not-confirmed.error.js';
import { ShareKhanLoginService, type Identity } from '../login/login.service.js';
import { callbackQuerySchema, submitTokenSchema, type CallbackQuery, type SubmitTokenBody } from './sharekhan-token.dto.js';
import { CACHE_ERROR_STATUSES } from '../../common/cache-error-statuses.js';
import { SHAREKHAN_ERROR_STATUSES } from './error-statuses.js';

/** A failed login answers the browser with the same status the filter would give the error. */
const LOGIN_ERROR_STATUSES: Readonly<Record<string, number>> = { ...CACHE_ERROR_STATUSES, ...SHAREKHAN_ERROR_STATUSES };
import { AUDIT_TRAIL, LOGIN_URL, SUBMIT_TOKEN_EXAMPLE, TOKEN_LIST, TOKEN_REVOKED, TOKEN_STATUS, TOKEN_STORED, TOKEN_VALIDATION } from './sharekhan-token.openapi.js';
import { StaticTokens } from '../tokens/static-tokens.js';
import { ShareKhanTokenStore, type TokenStatus } from '../tokens/token-store.service.js';

const userIdPipe = new UserIdPipe('userId');

/** Token endpoints. Every answer is `Cache-Control: no-store` (set by ShareKhanAuthModule's middleware). */
/** A trading user without a customer id cannot log in: the account that logs in could be anyone's. */
const LOGIN_WITHOUT_CUSTOMER: ErrorCase = {
  status: 409,
  message:
    "PAPER_TRADER_001 has no ShareKhan customer id configured, so a ShareKhan login cannot be checked against its account and is refused; nothing was stored. Add the customer id (and login id) of PAPER_TRADER_001 to ShareKhanAuthModule's `accounts` option (or OrchestratorModule's `users`) and restart, or submit its token by hand.",
};

@ApiTags('sharekhan')
@Controller('sharekhan')
@UseFilters(new DomainErrorFilter(SHAREKHAN_ERROR_STATUSES))
export class ShareKhanTokenController {
  constructor(
    private readonly store: ShareKhanTokenStore,
    private readonly login: ShareKhanLoginService,
    private readonly staticTokens: StaticTokens,
    @Optional() @Inject(LOGIN_BROWSER_RETURN) private readonly browserReturn?: LoginBrowserReturn,
  ) {}

  @Put('users/:userId/token')
  @ApiKeyAuth({ userParam: 'userId' })
  @ApiOperation({ summary: "Store a user's ShareKhan access token of today (manual submission)" })
  @ApiZodBody(submitTokenSchema, SUBMIT_TOKEN_EXAMPLE)
  @ApiOkBody(200, 'Stored, encrypted; the answer shows a mask and a fingerprint, never the token', TOKEN_STORED)
  @ApiErrorResponses(BAD_TOKEN_BODY, 404, 409, 413)
  async submit(
    @Param('userId', userIdPipe) userId: string,
    @Body(new ZodValidationPipe(submitTokenSchema)) body: SubmitTokenBody,
    @CallerIdentity() by: Identity,
  ) {
    const saved = await this.login.submitManual(userId, body, by);
    return { present: true, usable: saved.view.status === 'active', ...saved.view, storedIn: saved.store, cacheMode: this.store.cacheMode };
  }

  @Get('users/:userId/token')
  @ApiKeyAuth({ userParam: 'userId' })
  @ApiOperation({ summary: "A user's token status: present, status, issued / expires at, seconds left, mask, fingerprint, cache mode" })
  @ApiOkBody(200, 'Status (present: false with status "missing" when there is none)', TOKEN_STATUS)
  @ApiErrorResponses(400, 503)
  async status(@Param('userId', userIdPipe) userId: string) {
    const status = await this.store.status(userId);
    // A configured static token stands in where the store has no record (as it does for orders).
    const fixed = status.state !== 'present' ? await this.staticTokens.view(userId) : null;
    if (fixed) return { present: true, usable: fixed.status === 'active', reason: fixed.statusReason, ...fixed, cacheMode: this.store.cacheMode };
    if (status.state === 'unavailable') {
      throw new ServiceUnavailableException(`Cannot tell whether ${userId} has a token right now (Redis unreachable and not in memory); retry shortly`);
    }
    return { ...describe(userId, status), cacheMode: this.store.cacheMode };
  }

  @Delete('users/:userId/token')
  @ApiKeyAuth({ userParam: 'userId' })
  @ApiOperation({ summary: "Revoke a user's token (the token text is destroyed); idempotent" })
  @ApiOkBody(200, 'revoked: true; or revoked: false with status "revoked" (already revoked) or "missing" (no token), which change nothing. 200 only once Redis holds the revoke (refused fleet-wide); 503 REVOKE_NOT_CONFIRMED while it is in effect on this instance only', TOKEN_REVOKED)
  @ApiErrorResponses(400, 503)
  async remove(@Param('userId', userIdPipe) userId: string, @CallerIdentity() by: Identity) {
    const out = await this.store.revoke(userId, { who: by.who, source: 'api', clientAddress: by.clientAddress });
    if (!out.confirmed) throw new RevokeNotConfirmedError(userId, out.state);
    // A static token stands in where the store has no record: DELETE stops it too (by its fingerprint).
    const fixed = out.state === 'missing' ? await this.staticTokens.revoke(userId, by.who, Date.now()) : null;
    if (fixed) {
      if (fixed.revoked) await this.store.audit(userId, { action: 'deleted', actor: { who: by.who, source: 'api', clientAddress: by.clientAddress }, fingerprint: fixed.view.fingerprint, detail: 'static token' });
      return {
        userId,
        revoked: fixed.revoked,
        status: 'revoked',
        alreadyRevoked: !fixed.revoked,
        message: fixed.revoked
          ? `The static token of ${userId} is revoked; submit a new token (or configure another) to trade again.`
          : `The static token of ${userId} was already revoked (${fixed.view.statusReason}); nothing changed.`,
        token: fixed.view,
        cacheMode: this.store.cacheMode,
      };
    }
    const message =
      out.state === 'revoked'
        ? `The token of ${userId} is revoked; submit a new one to trade again.`
        : out.state === 'already_revoked'
          ? `The token of ${userId} was already revoked (${out.view.statusReason ?? 'earlier'}); nothing changed.`
          : out.state === 'superseded'
            ? `A newer token (${out.view.fingerprint}) was stored for ${userId} while the revoke ran and was left as it is; DELETE again to revoke it.`
            : `No token is stored for ${userId}; nothing changed.`;
    return {
      userId,
      revoked: out.revoked,
      status: out.state === 'missing' ? 'missing' : out.state === 'superseded' ? out.view.status : 'revoked',
      alreadyRevoked: out.state === 'already_revoked',
      message,
      token: out.view,
      cacheMode: this.store.cacheMode,
    };
  }

  @Post('users/:userId/token/validate')
  @HttpCode(200)
  @ApiKeyAuth({ userParam: 'userId' })
  @ApiOperation({ summary: 'Ask ShareKhan whether the token works (GET /reports/{customerId}); a 403 marks it invalid' })
  @ApiOkBody(200, 'valid: true, or valid: false with the reason (expired, invalid, revoked, refused by ShareKhan)', TOKEN_VALIDATION)
  @ApiErrorResponses(400, 404, 409, 502, 503, 504)
  async validate(@Param('userId', userIdPipe) userId: string, @CallerIdentity() by: Identity) {
    const outcome = await this.login.validate(userId, by);
    return { userId, ...outcome, cacheMode: this.store.cacheMode };
  }

  @Get('users/:userId/audit')
  @ApiKeyAuth({ userParam: 'userId' })
  @ApiOperation({ summary: "A user's audit trail, newest first (who, action, fingerprint, source, client address, time)" })
  @ApiOkBody(200, 'Events; complete: false when Redis was unreachable', AUDIT_TRAIL)
  @ApiErrorResponses(400)
  async audit(@Param('userId', userIdPipe) userId: string, @Caller() caller: ApiCaller) {
    const { events, complete } = await this.store.auditEvents(userId);
    return { userId, count: events.length, complete, events: events.map((e) => auditEventFor(e, caller)) };
  }

  @Get('users/:userId/login-url')
  @ApiKeyAuth({ userParam: 'userId' })
  @ApiOperation({ summary: 'Start the daily ShareKhan login: a login page URL with a one-time state bound to the user' })
  @ApiOkBody(200, 'loginUrl to open in the browser, the state and when it expires', LOGIN_URL)
  @ApiErrorResponses(400, 404, LOGIN_WITHOUT_CUSTOMER, 503)
  loginUrl(@Param('userId', userIdPipe) userId: string, @CallerIdentity() by: Identity) {
    return this.login.createLoginUrl(userId, by);
  }

  /** ShareKhan redirects the user's browser here; the one-time state is the credential, not an API key. */
  @Get('callback')
  @RateLimited()
  @ApiOperation({ summary: "ShareKhan's redirect after login: checks the state once, exchanges the request token (GCM tag checked), stores the access token" })
  @ApiQuery({ name: 'request_token', required: true, type: String, description: 'Appended by ShareKhan to the redirect' })
  @ApiQuery({ name: 'state', required: true, type: String, description: 'The one-time state from login-url' })
  @ApiOkBody(200, "Stored for the state's user; the answer shows a mask and a fingerprint", TOKEN_STORED)
  @ApiResponse({ status: 303, description: 'A browser (Accept prefers text/html) with the console on: back to /console, the outcome in the URL fragment' })
  @ApiErrorResponses(BAD_CALLBACK_QUERY, 409, 502, 503, 504)
  async callback(
    @Query(new ZodValidationPipe(callbackQuerySchema, 'query')) query: CallbackQuery,
    @Req() req: Request,
    @Res() res: Response,
  ) {
    // A browser (Accept prefers HTML) goes back to the page that started the login; API callers get JSON.
    const browser = this.browserReturn && req.accepts(['json', 'html']) === 'html' ? this.browserReturn : null;
    try {
      const { token, store } = await this.login.completeLogin(query.request_token, query.state, req.ip);
      if (browser) return res.redirect(303, browser.urlFor({ ok: true, token }));
      res.json({ present: true, usable: token.status === 'active', ...token, storedIn: store, cacheMode: this.store.cacheMode });
    } catch (err) {
      const statusCode = err instanceof DomainError ? LOGIN_ERROR_STATUSES[err.code] : undefined;
      if (!browser || !(err instanceof DomainError) || statusCode === undefined) throw err;
      res.redirect(303, browser.urlFor({ ok: false, statusCode, message: err.message, code: err.code }));
    }
  }

  @Get('tokens')
  @ApiKeyAuth({ adminOnly: true })
  @ApiOperation({ summary: "Every user's token status (admin key only; from an index, never a scan)" })
  @ApiOkBody(200, 'One status per user that ever stored a token', TOKEN_LIST)
  async list() {
    const { users, complete } = await this.store.list();
    return {
      count: users.length,
      complete,
      cacheMode: this.store.cacheMode,
      users: users.map(({ userId, status }) => describe(userId, status)),
    };
  }
}

function describe(userId: string, status: TokenStatus) {
  switch (status.state) {
    case 'present':
      return { present: true, usable: status.view.status === 'active' && status.reason === null, reason: status.reason, ...status.view };
    case 'missing':
      return { userId, present: false, usable: false, status: 'missing' as const };
    case 'unavailable':
      return { userId, present: null, usable: false, status: 'unknown' as const, reason: 'Redis unreachable and not in memory' };
  }
}
