import { Test } from '@nestjs/testing';
import { RouterModule } from '@nestjs/core';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { onTestFinished } from 'vitest';
import { AuthModule } from '../src/auth/index.js';
import { CacheModule } from '../src/cache/index.js';
import { ShareKhanAuthModule } from '../src/sharekhan/index.js';

const ADMIN_KEY = 'mounted-admin-key-0123456789';

/** A consumer app that mounts the token routes under a prefix of its own (RouterModule). */
async function mountedApp(): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      CacheModule.forRoot({ isGlobal: true, redis: null }),
      AuthModule.forRoot({ apiKeys: [{ name: 'ops', scope: 'admin', secret: ADMIN_KEY }] }),
      ShareKhanAuthModule.forRoot({}),
      RouterModule.register([{ path: 'broker', module: ShareKhanAuthModule }]),
    ],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  onTestFinished(() => app.close());
  return app;
}

describe('ShareKhanAuthModule mounted under a prefix by the consumer app', () => {
  it('its token answers still carry Cache-Control: no-store, errors included', async () => {
    const app = await mountedApp();
    const ok = await request(app.getHttpServer()).get('/broker/sharekhan/users/USER_A/token').set('x-api-key', ADMIN_KEY);
    expect(ok.status).toBe(200);
    expect(ok.headers['cache-control']).toBe('no-store');
    const refused = await request(app.getHttpServer()).get('/broker/sharekhan/users/USER_A/token');
    expect(refused.status).toBe(401);
    expect(refused.headers['cache-control']).toBe('no-store');
  });

  it('a typed error of its services answers its own status and code without the app\'s error filter', async () => {
    const app = await mountedApp();
    const res = await request(app.getHttpServer()).post('/broker/sharekhan/users/USER_A/token/validate').set('x-api-key', ADMIN_KEY);
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ statusCode: 404, error: 'Not Found', code: 'TOKEN_NOT_FOUND', message: expect.stringMatching(/^No ShareKhan token stored for USER_A/) });
    expect(res.headers['cache-control']).toBe('no-store');
  });
});
