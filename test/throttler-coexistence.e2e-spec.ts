import { Controller, Get, type INestApplication } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import {
  SkipThrottle,
  Throttle,
  ThrottlerGuard,
  ThrottlerModule,
} from '@nestjs/throttler';
import request from 'supertest';
import { onTestFinished } from 'vitest';
import { AuthModule } from '../src/auth/index.js';
import { CacheModule } from '../src/cache/index.js';

/**
 * AuthModule's budget is its own `rateLimit` option, applied by its own guard: it provides none of
 * @nestjs/throttler's tokens, so an app's ThrottlerModule, ThrottlerGuard, @Throttle() and
 * @SkipThrottle() work on the app's routes exactly as Nest documents them (docs/sharekhan.md).
 */
@Controller()
class PingController {
  @Get('ping')
  ping() {
    return { ok: true };
  }

  @Get('loose')
  @Throttle({ default: { limit: 4, ttl: 60_000 } })
  loose() {
    return { ok: true };
  }

  @Get('free')
  @SkipThrottle()
  free() {
    return { ok: true };
  }
}

async function app(withThrottlerModule: boolean): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      CacheModule.forRoot({ isGlobal: true, redis: null, keyPrefix: 'thr:' }),
      AuthModule.forRoot({ apiKeys: [], rateLimit: { limit: 100 } }),
      ...(withThrottlerModule
        ? [
            ThrottlerModule.forRoot({
              throttlers: [{ name: 'default', limit: 2, ttl: 60_000 }],
            }),
          ]
        : []),
    ],
    controllers: [PingController],
    providers: [{ provide: APP_GUARD, useClass: ThrottlerGuard }],
  }).compile();
  const nest = moduleRef.createNestApplication({ logger: false });
  await nest.init();
  onTestFinished(() => nest.close());
  return nest;
}

describe("an app's own ThrottlerModule next to AuthModule", () => {
  it("the app's limit, @Throttle() and @SkipThrottle() apply to its routes, not AuthModule's budget", async () => {
    const server = (await app(true)).getHttpServer();
    const codes = async (path: string, n: number) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++)
        out.push((await request(server).get(path)).status);
      return out;
    };
    expect(await codes('/ping', 3)).toEqual([200, 200, 429]);
    expect(await codes('/loose', 5)).toEqual([200, 200, 200, 200, 429]);
    expect(await codes('/free', 5)).toEqual([200, 200, 200, 200, 200]);
  });

  it('without ThrottlerModule, ThrottlerGuard finds no options: AuthModule lends it none', async () => {
    await expect(app(false)).rejects.toThrow(
      /THROTTLER:MODULE_OPTIONS|ThrottlerGuard/,
    );
  });
});
