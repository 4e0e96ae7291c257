import request from 'supertest';
import { onTestFinished } from 'vitest';
import { createTestApp } from './helpers/app.js';

/** A browser that ends a failed login goes back to the console with the error's status and code only. */
describe('login callback, browser with the console on', () => {
  it('a typed login error redirects with its status and code from the module table, JSON callers get the error body', async () => {
    const t = await createTestApp({
      CONSOLE_ENABLED: 'true',
      SHAREKHAN_API_KEY: 'browser-return-api-key',
      SHAREKHAN_SECRET_KEY: 'Sk8x2mQ7vR4tY9wE1uI5oP3aS6dF0gH2',
    });
    onTestFinished(() => t.close());
    const browser = await request(t.http).get('/sharekhan/callback?request_token=abc&state=never-issued').set('Accept', 'text/html');
    expect(browser.status).toBe(303);
    expect(browser.headers.location).toBe('/console#login=failed&code=400&reason=LOGIN_STATE_UNKNOWN');
    const api = await request(t.http).get('/sharekhan/callback?request_token=abc&state=never-issued').set('Accept', 'application/json');
    expect(api.status).toBe(400);
    expect(api.body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      code: 'LOGIN_STATE_UNKNOWN',
      message: 'Unknown, expired or already used state: start the login again with GET /sharekhan/users/:userId/login-url',
    });
  });
});
