import {
  exchangeRequestToken,
  RequestTokenError,
} from '../src/sharekhan/login/request-token-exchange.js';
import {
  ShareKhanClient,
  type OrderInput,
} from '../src/sharekhan/broker/sharekhan-client.js';
import {
  BrokerAuthError,
  BrokerBadRequestError,
  BrokerError,
  BrokerNetworkError,
  BrokerOrderRejectedError,
  BrokerProtocolError,
  BrokerRateLimitError,
  BrokerServerError,
  BrokerTimeoutError,
  InvalidOrderError,
} from '../src/sharekhan/broker/broker-errors.js';
import {
  startFakeShareKhan,
  type FakeShareKhan,
} from './helpers/fake-sharekhan.js';
import { SAMPLE_ORDER } from './fixtures/orders.js';

const SECRET = 'Sk8x2mQ7vR4tY9wE1uI5oP3aS6dF0gH2';
const API_KEY = 'test-api-key-0123456789';
const VENDOR_KEY = 'vendor-key-abcdef';
const REDIRECT = 'https://app.example.test/sharekhan/callback';

const order = (
  customerId: string,
  extra: Partial<OrderInput> = {},
): OrderInput => ({
  ...SAMPLE_ORDER,
  customerId,
  channelUser: 'LOGIN1',
  ...extra,
});

async function caught(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

/** No secret may appear in the message, the stack or any enumerable field. */
function expectNoSecrets(err: Error, ...secrets: string[]) {
  const text = `${err.message}\n${String(err.stack)}\n${JSON.stringify(err)}`;
  for (const s of [SECRET, API_KEY, VENDOR_KEY, ...secrets])
    expect(text).not.toContain(s);
}

async function login(fake: FakeShareKhan, query: Record<string, string>) {
  const url = new URL(fake.loginUrl);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  return fetch(url, { redirect: 'manual' });
}

describe('ShareKhanClient against the fake ShareKhan', () => {
  let fake: FakeShareKhan;
  let client: ShareKhanClient;

  afterEach(async () => {
    await fake?.close();
  });

  describe('login exchange with version id 1005 (base64url)', () => {
    beforeEach(async () => {
      fake = await startFakeShareKhan({
        secretKey: SECRET,
        apiKey: API_KEY,
        versionId: '1005',
        vendorKey: VENDOR_KEY,
        redirectUri: REDIRECT,
        customerId: 'C100',
      });
      client = new ShareKhanClient({
        baseUrl: fake.baseUrl,
        apiKey: API_KEY,
        vendorKey: VENDOR_KEY,
        versionId: '1005',
        timeoutMs: 2000,
      });
    });

    it('redirect -> exchange -> access token -> authenticated call', async () => {
      const res = await login(fake, {
        api_key: API_KEY,
        state: 'st-1',
        vendor_key: VENDOR_KEY,
        version_id: '1005',
      });
      expect(res.status).toBe(302);
      const location = new URL(res.headers.get('location') ?? '');
      expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
      expect(location.searchParams.get('state')).toBe('st-1');
      const requestToken = location.searchParams.get('request_token') ?? '';

      const exchange = exchangeRequestToken(requestToken, SECRET, {
        versionId: '1005',
      });
      expect(exchange.customerId).toBe('C100');

      const session = await client.createAccessToken({
        requestToken: exchange.exchangeValue,
        state: 'st-1',
      });
      expect(session.accessToken).toMatch(/\S{20,}/);
      expect(session.customerId).toBe('C100');
      expect(session.fields).not.toHaveProperty('token');

      const [sent] = fake.requestsTo('POST', '/access/token');
      expect(sent.body).toEqual({
        apiKey: API_KEY,
        requestToken: exchange.exchangeValue,
        state: 'st-1',
        versionId: '1005',
        vendorKey: VENDOR_KEY,
      });

      const day = await client.getDayOrders(session.accessToken, 'C100');
      expect(day).toEqual({ status: 200, message: 'success', data: [] });
    });

    it('an exchange value is single use', async () => {
      const token = fake.issueRequestToken('C100', 'st-2');
      const { exchangeValue } = exchangeRequestToken(token, SECRET, {
        versionId: '1005',
      });
      await client.createAccessToken({
        requestToken: exchangeValue,
        state: 'st-2',
      });
      const err = await caught(
        client.createAccessToken({
          requestToken: exchangeValue,
          state: 'st-2',
        }),
      );
      expect(err).toBeInstanceOf(BrokerBadRequestError);
      expect((err as BrokerBadRequestError).status).toBe(400);
      expect((err as BrokerBadRequestError).brokerMessage).toMatch(
        /already used/,
      );
      expectNoSecrets(err, exchangeValue, token);
    });

    it('the broker refuses an unswapped value; a tampered token never leaves the app', async () => {
      const token = fake.issueRequestToken('C100');
      const err = await caught(
        client.createAccessToken({ requestToken: token, state: '' }),
      );
      expect(err).toBeInstanceOf(BrokerBadRequestError);
      expectNoSecrets(err, token);

      const tampered = `${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`;
      expect(() =>
        exchangeRequestToken(tampered, SECRET, { versionId: '1005' }),
      ).toThrow(RequestTokenError);
    });

    it('login rejects a bad version_id or api_key with "Request is invalid"', async () => {
      for (const query of [
        {
          api_key: API_KEY,
          state: 's',
          vendor_key: VENDOR_KEY,
          version_id: '1007',
        },
        {
          api_key: 'wrong',
          state: 's',
          vendor_key: VENDOR_KEY,
          version_id: '1005',
        },
      ]) {
        const res = await login(fake, query);
        expect(res.status).toBe(400);
        expect(await res.json()).toMatchObject({
          message: 'Request is invalid',
        });
      }
    });

    it('sends orders once with the documented headers', async () => {
      const token = fake.issueAccessToken('C100');
      const placed = await client.placeOrder(token, order('C100'));
      expect(placed).toMatchObject({ orderStatus: 'Pending' });
      expect(placed.orderId).toMatch(/^\d+$/);

      const sent = fake.requestsTo('POST', '/orders');
      expect(sent).toHaveLength(1);
      expect(sent[0].headers).toMatchObject({
        'api-key': API_KEY,
        'access-token': token,
        'vendor-key': VENDOR_KEY,
        'content-type': 'application/json',
      });
      expect(sent[0].body).toMatchObject({
        customerId: 'C100',
        rmsCode: 'ANY',
        validity: 'GFD',
      });

      const history = await client.getOrderHistory(
        token,
        'NC',
        'C100',
        placed.orderId,
      );
      expect(history.data).toEqual([
        expect.objectContaining({ orderId: placed.orderId }),
      ]);
      const cancelled = await client.placeOrder(
        token,
        order('C100', { requestType: 'CANCEL', orderId: placed.orderId }),
      );
      expect(cancelled.orderId).toBe(placed.orderId);
    });
  });

  describe('without version id (standard base64)', () => {
    beforeEach(async () => {
      fake = await startFakeShareKhan({
        secretKey: SECRET,
        apiKey: API_KEY,
        redirectUri: REDIRECT,
        customerId: 'C200',
        plusAsSpaceInRedirect: true,
      });
      client = new ShareKhanClient({
        baseUrl: fake.baseUrl,
        apiKey: API_KEY,
        timeoutMs: 2000,
      });
    });

    it('restores a "+" that the redirect turned into a space', async () => {
      let requestToken = '';
      for (let i = 0; i < 40 && !requestToken.includes(' '); i++) {
        const res = await login(fake, { api_key: API_KEY, state: `st-${i}` });
        requestToken =
          new URL(res.headers.get('location') ?? '').searchParams.get(
            'request_token',
          ) ?? '';
        if (requestToken.includes(' ')) {
          const exchange = exchangeRequestToken(requestToken, SECRET, {
            versionId: '',
          });
          const session = await client.createAccessToken({
            requestToken: exchange.exchangeValue,
            state: `st-${i}`,
          });
          expect(session.customerId).toBe('C200');
          expect(
            fake.requestsTo('POST', '/access/token')[0].body,
          ).not.toHaveProperty('versionId');
        }
      }
      expect(requestToken).toContain(' ');
    });

    it('login without a redirect_uri answers with the target in JSON', async () => {
      const bare = await startFakeShareKhan({
        secretKey: SECRET,
        apiKey: API_KEY,
      });
      try {
        const res = await login(bare, { api_key: API_KEY, state: 'x' });
        expect(res.status).toBe(200);
        const body = (await res.json()) as {
          requestToken: string;
          redirectTo: string;
        };
        expect(exchangeRequestToken(body.requestToken, SECRET).customerId).toBe(
          'C100',
        );
      } finally {
        await bare.close();
      }
    });
  });

  describe('failures', () => {
    let token: string;

    beforeEach(async () => {
      fake = await startFakeShareKhan({ secretKey: SECRET, apiKey: API_KEY });
      client = new ShareKhanClient({
        baseUrl: fake.baseUrl,
        apiKey: API_KEY,
        timeoutMs: 2000,
      });
      token = fake.issueAccessToken('C300');
    });

    it('403 on a revoked token -> BrokerAuthError (token dead), nothing retried', async () => {
      await client.getDayOrders(token, 'C300');
      fake.revoke(token);
      for (const call of [
        () => client.getDayOrders(token, 'C300'),
        () => client.placeOrder(token, order('C300')),
      ]) {
        const err = await caught(call());
        expect(err).toBeInstanceOf(BrokerAuthError);
        expect(err).toMatchObject({
          status: 403,
          tokenInvalid: true,
          outcomeUnknown: false,
        });
        expectNoSecrets(err, token);
      }
      expect(fake.requestsTo('POST', '/orders')).toHaveLength(1);
      expect(fake.orders).toHaveLength(0);
    });

    it('an unknown token or wrong api key is 403 too', async () => {
      const other = new ShareKhanClient({
        baseUrl: fake.baseUrl,
        apiKey: 'wrong-key-123',
        timeoutMs: 2000,
      });
      expect(await caught(other.getHoldings(token, 'C300'))).toBeInstanceOf(
        BrokerAuthError,
      );
      expect(
        await caught(client.getHoldings('not-a-token', 'C300')),
      ).toBeInstanceOf(BrokerAuthError);
    });

    it('429 -> BrokerRateLimitError with Retry-After', async () => {
      fake.failNext({ status: 429 });
      const err = await caught(client.getPositions(token, 'C300'));
      expect(err).toBeInstanceOf(BrokerRateLimitError);
      expect(err).toMatchObject({
        status: 429,
        retryAfterMs: 1000,
        outcomeUnknown: false,
      });
      expectNoSecrets(err, token);
      await expect(client.getPositions(token, 'C300')).resolves.toMatchObject({
        data: [],
      });
    });

    it.each([500, 502])(
      '%i -> BrokerServerError; outcome unknown only for orders',
      async (status) => {
        fake.failNext({ status, path: '/limitstmt' });
        const read = await caught(client.getFunds(token, 'NC', 'C300'));
        expect(read).toBeInstanceOf(BrokerServerError);
        expect(read).toMatchObject({ status, outcomeUnknown: false });

        fake.failNext({ status, path: '/orders', afterProcessing: true });
        const post = await caught(client.placeOrder(token, order('C300')));
        expect(post).toBeInstanceOf(BrokerServerError);
        expect(post).toMatchObject({ status, outcomeUnknown: true });
        expectNoSecrets(post, token);
        // The fake placed it before failing: exactly why the outcome is "unknown".
        expect(fake.orders).toHaveLength(1);
        expect(fake.requestsTo('POST', '/orders')).toHaveLength(1);
      },
    );

    it('an order POST that times out is outcome-unknown and is sent exactly once', async () => {
      const fast = new ShareKhanClient({
        baseUrl: fake.baseUrl,
        apiKey: API_KEY,
        timeoutMs: 200,
      });
      fake.setLatency(700, '/orders');
      const started = Date.now();
      const err = await caught(fast.placeOrder(token, order('C300')));
      const elapsed = Date.now() - started;
      expect(err).toBeInstanceOf(BrokerTimeoutError);
      expect(err).toMatchObject({
        outcomeUnknown: true,
        timeoutMs: 200,
        operation: 'placeOrder',
      });
      expect(elapsed).toBeLessThan(200 + 150);
      expectNoSecrets(err, token);

      await new Promise((r) => setTimeout(r, 800));
      const sent = fake.requestsTo('POST', '/orders');
      expect(sent).toHaveLength(1);
      expect(sent[0].headers['access-token']).toBe(token);
      expect(fake.orders).toHaveLength(1);
    });

    it('a read that times out is not outcome-unknown', async () => {
      const fast = new ShareKhanClient({
        baseUrl: fake.baseUrl,
        apiKey: API_KEY,
        timeoutMs: 150,
      });
      fake.setLatency(600);
      const err = await caught(fast.getDayOrders(token, 'C300'));
      expect(err).toBeInstanceOf(BrokerTimeoutError);
      expect(err).toMatchObject({ outcomeUnknown: false });
    });

    it('a non-JSON body -> BrokerProtocolError (outcome unknown for an order)', async () => {
      fake.nonJsonNext({ path: '/reports' });
      expect(await caught(client.getDayOrders(token, 'C300'))).toBeInstanceOf(
        BrokerProtocolError,
      );

      fake.nonJsonNext({ path: '/orders' });
      const err = await caught(client.placeOrder(token, order('C300')));
      expect(err).toBeInstanceOf(BrokerProtocolError);
      expect(err).toMatchObject({ outcomeUnknown: true });

      fake.nonJsonNext({ path: '/access/token' });
      const login = await caught(
        client.createAccessToken({ requestToken: 'AAAA', state: 's' }),
      );
      expect(login).toBeInstanceOf(BrokerProtocolError);
      expectNoSecrets(login, 'AAAA');
    });

    it('a non-JSON 502 from a proxy is still a server error', async () => {
      fake.nonJsonNext({ path: '/holdings', status: 502 });
      expect(await caught(client.getHoldings(token, 'C300'))).toMatchObject({
        name: 'BrokerServerError',
        status: 502,
      });
    });

    it('a broker rejection (data.errormsg) -> BrokerOrderRejectedError, outcome known', async () => {
      fake.rejectOrdersWith('RMS: insufficient margin');
      const err = await caught(client.placeOrder(token, order('C300')));
      expect(err).toBeInstanceOf(BrokerOrderRejectedError);
      expect(err).toMatchObject({
        reason: 'RMS: insufficient margin',
        outcomeUnknown: false,
      });
      expect(err.message).toContain('insufficient margin');
      expect(fake.orders).toHaveLength(0);
    });

    it('an invalid order is refused locally and never sent', async () => {
      const err = await caught(
        client.placeOrder(token, order('C300', { exchange: 'NSE' as never })),
      );
      expect(err).toBeInstanceOf(InvalidOrderError);
      expect(err.message).toMatch(/exchange must be one of/);
      expect(fake.requestsTo('POST', '/orders')).toHaveLength(0);
    });

    it('the fake itself checks required order fields and customer ownership', async () => {
      const post = (body: unknown) =>
        fetch(`${fake.baseUrl}/orders`, {
          method: 'POST',
          headers: {
            'api-key': API_KEY,
            'access-token': token,
            'content-type': 'application/json',
          },
          body: JSON.stringify(body),
        });
      const missing = await post({ customerId: 'C300', scripCode: 1 });
      expect(missing.status).toBe(400);
      expect(await missing.json()).toMatchObject({
        errorMsg: expect.stringMatching(/Missing required field/),
      });

      const err = await caught(client.placeOrder(token, order('C999')));
      expect(err).toBeInstanceOf(BrokerBadRequestError);
      expect((err as BrokerBadRequestError).brokerMessage).toMatch(
        /does not belong/,
      );
    });

    it('reads hit the documented paths', async () => {
      await client.getFunds(token, 'NC', 'C300');
      await client.getPositions(token, 'C300');
      await client.getHoldings(token, 'C300');
      await client.getDayOrders(token, 'C300');
      expect(fake.requests.map((r) => `${r.method} ${r.servicePath}`)).toEqual([
        'GET /limitstmt/NC/C300',
        'GET /trades/C300',
        'GET /holdings/C300',
        'GET /reports/C300',
      ]);
    });

    it('connection refused: network error, known not sent even for an order', async () => {
      const baseUrl = fake.baseUrl;
      await fake.close();
      const dead = new ShareKhanClient({
        baseUrl,
        apiKey: API_KEY,
        timeoutMs: 1000,
      });
      const err = await caught(dead.placeOrder(token, order('C300')));
      expect(err).toBeInstanceOf(BrokerNetworkError);
      expect(err).toMatchObject({
        code: 'BROKER_UNREACHABLE',
        socketCode: 'ECONNREFUSED',
        outcomeUnknown: false,
      });
      expectNoSecrets(err, token);
      fake = await startFakeShareKhan({ secretKey: SECRET, apiKey: API_KEY });
    });
  });

  describe('response shapes the fake does not produce (injected fetch)', () => {
    const respond = (status: number, body: unknown) =>
      new ShareKhanClient({
        baseUrl: 'http://broker.invalid/skapi/services',
        apiKey: API_KEY,
        timeoutMs: 1000,
        fetch: async () => new Response(JSON.stringify(body), { status }),
      });

    afterEach(() => {
      fake = undefined as unknown as FakeShareKhan;
    });

    it('missing data.token -> BrokerProtocolError', async () => {
      const err = await caught(
        respond(200, {
          status: 200,
          message: 'success',
          data: {},
        }).createAccessToken({
          requestToken: 'x',
          state: 's',
        }),
      );
      expect(err).toBeInstanceOf(BrokerProtocolError);
      expect(err.message).toMatch(/data\.token/);
    });

    it('HTTP 200 whose body says 403 is still a dead token', async () => {
      const err = await caught(
        respond(200, {
          status: 403,
          message: 'error',
          errorType: 'Access Denied',
        }).getDayOrders('tok-123456', 'C1'),
      );
      expect(err).toBeInstanceOf(BrokerAuthError);
    });

    it('a broker message echoing our secrets is redacted', async () => {
      const accessToken = 'access-token-secret-value';
      const err = await caught(
        respond(400, {
          status: 400,
          message: `bad api-key ${API_KEY} with token ${accessToken}`,
        }).getFunds(accessToken, 'NC', 'C1'),
      );
      expect(err).toBeInstanceOf(BrokerBadRequestError);
      expect((err as BrokerBadRequestError).brokerMessage).toContain(
        '[redacted]',
      );
      expectNoSecrets(err, accessToken);
    });

    it('every broker error is a BrokerError', async () => {
      const err = await caught(
        respond(503, {}).getHoldings('tok-123456', 'C1'),
      );
      expect(err).toBeInstanceOf(BrokerError);
      expect(err).toBeInstanceOf(BrokerServerError);
    });
  });
});
