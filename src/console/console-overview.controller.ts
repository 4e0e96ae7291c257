import { Controller, Get, Header, Inject } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiOkBody } from '../common/openapi.js';
import { ApiKeyAuth, Caller, type ApiCaller } from '../auth/index.js';
import { SHAREKHAN_PUBLIC_SETTINGS, ShareKhanTokenStore, auditEventFor, TokenClock, nextCutoff, type ShareKhanPublicSettings, type TokenStatus } from '../sharekhan/index.js';
import { cacheModeNotice } from './cache-mode-notice.js';
import { CONSOLE_OVERVIEW } from './console-overview.openapi.js';
import { CONSOLE_OPTIONS, type ConsoleModuleOptions } from './console.options.js';

/** What the token store holds for a user, including `revoked`, which readiness reports as invalid. */
export type StoredTokenState = 'active' | 'expired' | 'invalid' | 'revoked' | 'missing' | 'unknown';

/**
 * The one read the console needs beyond the public API: who the key is, the cache mode with what
 * it means for trading, the next cut-off, and per visible user the stored token's state and last
 * audit event (one call instead of two per user, which the rate limit would soon refuse).
 */
@ApiTags('console')
@Controller('console/api')
export class ConsoleOverviewController {
  constructor(
    private readonly store: ShareKhanTokenStore,
    private readonly clock: TokenClock,
    @Inject(CONSOLE_OPTIONS) private readonly options: ConsoleModuleOptions,
    @Inject(SHAREKHAN_PUBLIC_SETTINGS) private readonly sharekhan: ShareKhanPublicSettings,
  ) {}

  @Get('overview')
  @Header('Cache-Control', 'no-store')
  @ApiKeyAuth()
  @ApiOperation({ summary: "The console's overview: caller, cache mode and its meaning, next cut-off, each visible user's stored token state and last audit event" })
  @ApiOkBody(200, 'An admin key sees every trading user, a user-scoped key its own user only', CONSOLE_OVERVIEW)
  async overview(@Caller() caller: ApiCaller) {
    const own = caller.scope.kind === 'user' ? caller.scope.userId : null;
    const users = this.options.users.filter((u) => caller.admin || u.userId === own);
    const now = this.clock.now();
    const { cutoffIst, cutoffMinutesIst } = this.sharekhan;
    return {
      caller: { name: caller.name, admin: caller.admin, userId: own },
      cache: cacheModeNotice(this.store.cacheMode),
      cutoff: {
        ist: cutoffIst,
        nextAt: new Date(nextCutoff(now, cutoffMinutesIst)).toISOString(),
      },
      users: await Promise.all(
        users.map(async ({ userId, mode }) => {
          const [status, audit] = await Promise.all([this.store.status(userId), this.store.auditEvents(userId)]);
          const last = audit.events[0];
          return { userId, mode, stored: storedState(status), lastEvent: last ? auditEventFor(last, caller) : null };
        }),
      ),
    };
  }
}

function storedState(status: TokenStatus): StoredTokenState {
  if (status.state === 'missing') return 'missing';
  if (status.state === 'unavailable') return 'unknown';
  return status.view.status;
}
