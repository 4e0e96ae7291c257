import { Controller, Get, Header, Res, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import type { Response } from 'express';
import { CacheReadinessIndicator } from './cache-readiness.indicator.js';
import { ShutdownState } from './shutdown-state.js';
import { StartupIndicator } from './startup.indicator.js';

/**
 * Kubernetes probes. Bodies keep Terminus' shape `{ status, info, error, details }`, with 503 for
 * `error` and `shutting_down`, 200 for `ok` and `degraded`.
 */
@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly readiness: CacheReadinessIndicator,
    private readonly startupIndicator: StartupIndicator,
    private readonly shutdown: ShutdownState,
  ) {}

  /**
   * The process only: answers while the event loop does. A Redis outage or a shutdown in
   * progress must never fail it, or Kubernetes would restart every pod at once.
   */
  @Get('live')
  @ApiOperation({ summary: 'Liveness: the process is up (never depends on Redis)' })
  @ApiOkResponse({ description: 'The process answers', schema: healthSchema('ok') })
  @Header('Cache-Control', 'no-cache, no-store, must-revalidate')
  live(): HealthCheckResult {
    const processInfo = { process: { status: 'up' as const, uptimeSeconds: Math.round(process.uptime()) } };
    return { status: 'ok', info: processInfo, error: {}, details: processInfo };
  }

  /** Whether to send traffic here: the cache mode and a write/read self-test of the cache. */
  @Get('ready')
  @ApiOperation({
    summary: 'Readiness: up in redis and memory mode, degraded (200) in fallback and recovering, 503 when down or shutting down',
  })
  @HealthCheck()
  async ready(@Res({ passthrough: true }) res: Response): Promise<HealthCheckResult> {
    if (this.shutdown.shuttingDown) {
      res.status(503);
      return { status: 'shutting_down', info: {}, error: {}, details: {} };
    }
    return this.answer(res, () => this.health.check([() => this.readiness.check('cache')]));
  }

  /** Booted, and Redis connected or given up on after the grace period. */
  @Get('startup')
  @ApiOperation({ summary: 'Startup: the app has booted and the cache has had its chance to reach Redis' })
  @HealthCheck()
  startup(@Res({ passthrough: true }) res: Response): Promise<HealthCheckResult> {
    return this.answer(res, () => this.health.check([() => this.startupIndicator.check('startup')]));
  }

  /**
   * Terminus reports failure by throwing a 503 whose body is the health result; the app's error
   * filter would reduce that to a generic message, so the result is sent as is.
   */
  private async answer(res: Response, run: () => Promise<HealthCheckResult>): Promise<HealthCheckResult> {
    try {
      return await run();
    } catch (err) {
      if (!(err instanceof ServiceUnavailableException)) throw err;
      res.status(503);
      return err.getResponse() as HealthCheckResult;
    }
  }
}

function healthSchema(status: 'ok' | 'error') {
  return {
    type: 'object',
    properties: {
      status: { type: 'string', example: status },
      info: { type: 'object', additionalProperties: true },
      error: { type: 'object', additionalProperties: true },
      details: { type: 'object', additionalProperties: true },
    },
  };
}
