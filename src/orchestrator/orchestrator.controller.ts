import {
  Body,
  Controller,
  ForbiddenException,
  Get,
  Header,
  HttpCode,
  HttpStatus,
  Inject,
  NotFoundException,
  Param,
  Post,
  Req,
  Res,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { fromLines } from '../common/field-problems.js';
import { reason } from '../common/http-error.filter.js';
import { InvalidRequestException } from '../common/invalid-request.exception.js';
import { ApiErrorResponses, ApiOkBody, ApiZodBody, BAD_ORDER_BODY, NOT_OWN_USER } from '../common/openapi.js';
import { ApiKeyAuth, ApiKeyService, Caller, type ApiCaller } from '../auth/index.js';
import { ZodValidationPipe } from '../common/zod-validation.pipe.js';
import { OrderBook } from './order-book.js';
import { withHttpStatus, type ShownResult } from './orchestrator.error-statuses.js';
import { ApiOrderFailures, ORDER_LIST, ORDER_RESULT, PLACE_ORDER_EXAMPLE, PREMARKET_REPORT, READINESS_REPORT, SIGNAL_EXAMPLE, SIGNAL_REPORT } from './orchestrator.openapi.js';
import { OrderExecutor } from './order-executor.js';
import {
  orderFor,
  placeOrderBodySchema,
  signalBodySchema,
  type PlaceOrderBody,
  type SignalBody,
} from './orchestrator.schemas.js';
import type { OrderResult } from './orchestrator.types.js';
import { PremarketCheckService, type PremarketReport } from './premarket-check.service.js';
import { ReadinessService } from './readiness.service.js';
import { SignalFanout, type SignalReport } from './signal-fanout.js';
import type { OrchestratorSettings } from './orchestrator.options.js';
import { ORCHESTRATOR_SETTINGS } from './orchestrator.tokens.js';
import { UserRegistry } from './user-registry.js';
import { prefetchedToken } from './token-prefetch.middleware.js';
import type { TokenResolution } from './token-resolver.js';

/**
 * Trade endpoints. Every outcome for a user is a result object (never a thrown 500): placed,
 * not placed (with the reason and what to do), or unknown (never resent, reconcile first).
 */
@ApiTags('orchestrator')
@Controller('orchestrator')
export class OrchestratorController {
  constructor(
    private readonly users: UserRegistry,
    private readonly executor: OrderExecutor,
    private readonly fanout: SignalFanout,
    private readonly readiness: ReadinessService,
    private readonly premarket: PremarketCheckService,
    private readonly book: OrderBook,
    @Inject(ORCHESTRATOR_SETTINGS) private readonly settings: OrchestratorSettings,
  ) {}

  /** One order for one user. 201 when placed; otherwise the failure's own status (see docs). */
  @Post('orders')
  @ApiKeyAuth()
  @ApiOperation({ summary: "Place one order for one user with that user's own token (paper or live)" })
  @ApiZodBody(placeOrderBodySchema, PLACE_ORDER_EXAMPLE)
  @ApiOkBody(201, 'Placed: outcome "placed" with the broker order id', ORDER_RESULT)
  @ApiErrorResponses(BAD_ORDER_BODY, NOT_OWN_USER)
  @ApiOrderFailures('USER_UNKNOWN', 'TOKEN_EXPIRED', 'SIGNAL_IN_PROGRESS', 'TOKEN_MISSING', 'BROKER_REJECTED', 'TOKEN_INVALID', 'BROKER_TOKEN_REJECTED', 'BROKER_UNREACHABLE', 'BROKER_SERVER_ERROR', 'TOKEN_STORE_UNAVAILABLE', 'TOKEN_UNCONFIRMED', 'ORDER_OUTCOME_UNKNOWN')
  async placeOrder(
    @Body(new ZodValidationPipe(placeOrderBodySchema)) body: PlaceOrderBody,
    @Caller() caller: ApiCaller,
    @Res({ passthrough: true }) res: Response,
    @Req() req: Request,
  ): Promise<ShownResult & { statusCode: number; error?: string }> {
    assertMayActOn(caller, [body.userId]);
    const user = this.users.get(body.userId);
    const result = user ? await this.placeFor(user, body, prefetchedToken(req, user.userId)) : this.executor.unknownUser(body.userId);
    const shown = withHttpStatus(result);
    res.status(shown.httpStatus);
    // Failures keep the common error shape ({ statusCode, error, message }) plus code and outcome.
    return { statusCode: shown.httpStatus, ...(shown.httpStatus >= 400 ? { error: reason(shown.httpStatus) } : {}), ...shown };
  }

  /**
   * One signal fanned out to several users (or "all"). Always 200 when the request itself is
   * valid: each user's result carries its own outcome and status.
   */
  @Post('signals')
  @HttpCode(HttpStatus.OK)
  @ApiKeyAuth()
  @ApiOperation({ summary: 'Fan one signal out to several users (or "all"); idempotent per signal id and user' })
  @ApiZodBody(signalBodySchema, SIGNAL_EXAMPLE)
  @ApiOkBody(200, 'One result per user (placed, not_placed or unknown) and a summary', SIGNAL_REPORT)
  @ApiErrorResponses(BAD_ORDER_BODY, { status: 403, message: 'users "all" needs an admin API key; key "desk-1" may signal only its own user' })
  async signal(
    @Body(new ZodValidationPipe(signalBodySchema)) body: SignalBody,
    @Caller() caller: ApiCaller,
  ): Promise<SignalReport & { results: ShownResult[] }> {
    if (body.users === 'all' && !caller.admin) {
      throw new ForbiddenException(`users "all" needs an admin API key; key "${caller.name}" may signal only its own user`);
    }
    const targets = this.fanout.targets(body.users);
    assertMayActOn(caller, targets);
    // The order must be valid on its own before anyone trades; the account fields are the user's.
    const probe = orderFor({ userId: 'PROBE', customerId: 'PROBE', loginId: 'PROBE' }, body.order);
    if (!probe.ok) throw new InvalidRequestException(fromLines(probe.problems.map((p) => `body.${p}`)));
    const report = await this.fanout.fanOut(body.signalId, targets, body.order);
    return { ...report, results: report.results.map(withHttpStatus) };
  }

  /** Each user's token readiness as an order would see it, plus the last pre-market check. */
  @Get('readiness')
  @Header('Cache-Control', 'no-store')
  @ApiKeyAuth()
  @ApiOperation({ summary: 'Token readiness of each user (ready, missing, expired, invalid, unknown) and the last pre-market check' })
  @ApiOkBody(200, 'Per-user readiness with seconds until expiry', READINESS_REPORT)
  async getReadiness(@Caller() caller: ApiCaller) {
    const scope = caller.admin ? undefined : caller.scope.kind === 'user' ? [caller.scope.userId] : [];
    const report = await this.readiness.check(scope);
    const last = this.premarket.lastReport;
    return {
      ...report,
      premarket: {
        schedule: this.premarket.schedule,
        last: last && scope ? onlyUsers(last, scope) : last,
      },
    };
  }

  /** Runs the pre-market check now (the same check the schedule runs). */
  @Post('premarket-check')
  @HttpCode(HttpStatus.OK)
  @ApiKeyAuth({ adminOnly: true })
  @ApiOperation({ summary: 'Run the pre-market token check now (admin)' })
  @ApiOkBody(200, 'Which users lack a valid token', PREMARKET_REPORT)
  runPremarketCheck() {
    return this.premarket.run('manual');
  }

  /** The user's recent orders: paper fills, live orders, and live orders with unknown outcome. */
  @Get('users/:userId/orders')
  @Header('Cache-Control', 'no-store')
  @ApiKeyAuth({ userParam: 'userId' })
  @ApiOperation({ summary: "A user's recent orders (paper fills, live orders, unknown outcomes)" })
  @ApiOkBody(200, 'The orders, newest last; complete=false when the cache could not be read', ORDER_LIST)
  @ApiErrorResponses(400, 404)
  async listOrders(@Param('userId') userId: string) {
    const user = this.users.get(userId);
    if (!user) throw new NotFoundException(`No trading user ${userId} is configured (use the exact id of a user in ${this.settings.nameOf('users')})`);
    const { state, orders } = await this.book.list(userId);
    return { userId, mode: user.mode, complete: state !== 'unavailable', orders };
  }

  private async placeFor(user: NonNullable<ReturnType<UserRegistry['get']>>, body: PlaceOrderBody, token: Promise<TokenResolution> | undefined): Promise<OrderResult> {
    const built = orderFor(user, body.order);
    if (!built.ok) throw new InvalidRequestException(fromLines(built.problems.map((p) => `body.${p}`)));
    return this.executor.execute(user, built.order, token ? { token } : {});
  }
}

function assertMayActOn(caller: ApiCaller, userIds: string[]): void {
  const foreign = userIds.filter((id) => !ApiKeyService.mayActOn(caller, id));
  if (foreign.length > 0) {
    throw new ForbiddenException(`API key "${caller.name}" may act only on its own user, not on ${foreign.slice(0, 5).join(', ')}`);
  }
}

/** A user-scoped key sees only its own user in reports. */
function onlyUsers(report: PremarketReport, userIds: string[]): PremarketReport {
  const users = report.users.filter((u) => userIds.includes(u.userId));
  const lacking = report.lacking.filter((u) => userIds.includes(u.userId));
  return {
    ...report,
    users,
    lacking,
    summary: { total: users.length, ready: users.length - lacking.length, notReady: lacking.map((l) => l.userId) },
  };
}
