import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { onTestFinished } from 'vitest';
import { dispatcherFetch } from '../common/dispatcher-fetch.js';
import { BrokerNetworkError, BrokerRateLimitError, BrokerTimeoutError, ShareKhanClient } from '../sharekhan/index.js';

const ORDER = { customerId: 'C1', channelUser: 'L1', scripCode: 2885, tradingSymbol: 'RELIANCE', exchange: 'NC', transactionType: 'B', quantity: 1, price: '2500.50', requestType: 'NEW', productType: 'INVESTMENT' } as const;

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A broker stand-in that answers each request with `answer` and counts its TCP connections. */
async function fakeBroker(answer: (seen: Seen, reply: (status: number, body: string, headers?: Record<string, string>) => void) => void) {
  const seen: Seen[] = [];
  let connections = 0;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const s = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      seen.push(s);
      answer(s, (status, text, headers = {}) => {
        if (res.destroyed) return;
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(text);
      });
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onTestFinished(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  const { port } = server.address() as AddressInfo;
  return { baseUrl: `http://127.0.0.1:${port}`, seen, connections: () => connections };
}

const placed = JSON.stringify({ status: 200, data: { orderId: '1001', orderStatus: 'Pending' } });
const clientFor = (baseUrl: string, fetch: typeof globalThis.fetch, timeoutMs = 5_000) => new ShareKhanClient({ baseUrl, apiKey: 'api-key-1', timeoutMs, fetch });

describe('the live orders transport (dispatcherFetch)', () => {
  it('sends the very request the global fetch sends: method, path, body, credentials, content type, user agent', async () => {
    const broker = await fakeBroker((_s, reply) => reply(200, placed));
    const viaFetch = await clientFor(broker.baseUrl, globalThis.fetch).placeOrder('token-1', ORDER);
    const viaDispatcher = await clientFor(broker.baseUrl, dispatcherFetch).placeOrder('token-1', ORDER);
    expect(viaDispatcher.orderId).toBe('1001');
    expect(viaDispatcher).toEqual(viaFetch);
    const [a, b] = broker.seen;
    expect(b.method).toBe(a.method);
    expect(b.url).toBe(a.url);
    expect(JSON.parse(b.body)).toEqual(JSON.parse(a.body));
    for (const h of ['content-type', 'accept', 'api-key', 'access-token', 'user-agent', 'content-length']) expect([h, b.headers[h]]).toEqual([h, a.headers[h]]);
  });

  it('keeps one connection alive across consecutive orders (no connection set up per order)', async () => {
    const broker = await fakeBroker((_s, reply) => reply(200, placed));
    const client = clientFor(broker.baseUrl, dispatcherFetch);
    // undici opens a second connection for the second request (the global fetch does the same); then no more.
    for (let i = 0; i < 2; i++) await client.placeOrder('token-1', ORDER);
    const warm = broker.connections();
    for (let i = 0; i < 20; i++) await client.placeOrder('token-1', ORDER);
    expect(broker.seen).toHaveLength(22);
    expect(warm).toBeLessThanOrEqual(2);
    expect(broker.connections()).toBe(warm);
  });

  it('reads response headers as fetch does (a 429 carries its Retry-After)', async () => {
    const broker = await fakeBroker((_s, reply) => reply(429, JSON.stringify({ status: 429, message: 'slow down' }), { 'retry-after': '2' }));
    const err = await clientFor(broker.baseUrl, dispatcherFetch).placeOrder('token-1', ORDER).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BrokerRateLimitError);
    expect((err as BrokerRateLimitError).retryAfterMs).toBe(2_000);
  });

  it('a broker that does not answer in time: timeout, outcome unknown, as with fetch', async () => {
    const broker = await fakeBroker(() => undefined);
    const err = await clientFor(broker.baseUrl, dispatcherFetch, 100).placeOrder('token-1', ORDER).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BrokerTimeoutError);
    expect((err as BrokerTimeoutError).outcomeUnknown).toBe(true);
  });

  it('a refused connection: nothing was sent (not an unknown outcome), as with fetch', async () => {
    // A port that was just free: nothing listens there.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const freed = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
    await new Promise<void>((r) => probe.close(() => r()));
    for (const fetch of [globalThis.fetch, dispatcherFetch]) {
      const err = await clientFor(freed, fetch).placeOrder('token-1', ORDER).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BrokerNetworkError);
      expect((err as BrokerNetworkError).outcomeUnknown).toBe(false);
    }
  });

  it('never follows a redirect (a followed 307 would resend the order elsewhere)', async () => {
    const broker = await fakeBroker((s, reply) => (s.url.startsWith('/moved') ? reply(200, placed) : reply(307, '', { location: '/moved/orders' })));
    await clientFor(broker.baseUrl, dispatcherFetch).placeOrder('token-1', ORDER).catch(() => undefined);
    expect(broker.seen.map((s) => s.url)).toEqual(['/orders']);
  });
});
