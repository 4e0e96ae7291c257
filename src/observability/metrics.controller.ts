import { createHash, timingSafeEqual } from 'node:crypto';
import {
  Controller,
  Get,
  Header,
  Headers,
  Inject,
  Res,
  UnauthorizedException,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiTags,
} from '@nestjs/swagger';
import { ApiErrorResponses } from '../common/openapi.js';
import type { Response } from 'express';
import { APP_CONFIG } from '../config/config.constants.js';
import type { AppConfig } from '../config/load-config.js';
import { MetricsService } from './metrics.service.js';

const METRICS_UNAUTHORIZED =
  'GET /metrics needs Authorization: Bearer <the METRICS_TOKEN of this deployment>';

/** Hashing first makes the comparison constant-time whatever the lengths. */
const digest = (text: string) =>
  createHash('sha256').update(text, 'utf8').digest();

@ApiTags('operations')
@Controller('metrics')
export class MetricsController {
  private readonly token: Buffer | null;

  constructor(
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    const token = config.observability.metrics.token;
    this.token = token ? digest(token) : null;
  }

  @Get()
  @ApiOperation({
    summary:
      'Prometheus metrics (text exposition format); names listed in docs/operations.md. With METRICS_TOKEN set, needs Authorization: Bearer <token>',
  })
  @ApiProduces('text/plain')
  @ApiBearerAuth()
  @ApiOkResponse({
    description: 'Current values of every metric',
    schema: { type: 'string' },
  })
  @ApiErrorResponses({ status: 401, message: METRICS_UNAUTHORIZED })
  @Header('Cache-Control', 'no-store')
  async scrape(
    @Headers('authorization') authorization: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ): Promise<string> {
    if (this.token && !this.authorized(authorization)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="metrics"');
      throw new UnauthorizedException(METRICS_UNAUTHORIZED);
    }
    const body = await this.metrics.scrape();
    res.type(this.metrics.contentType);
    return body;
  }

  private authorized(header: string | undefined): boolean {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    return match !== null && timingSafeEqual(digest(match[1]), this.token!);
  }
}
