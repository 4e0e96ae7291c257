import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { packPackage } from './helpers/pack.js';
import { declarationImports } from './helpers/declaration-imports.js';
import { freePort, startRedis, waitUntil, type RedisProcess } from './helpers/index.js';

/**
 * The package as a stranger gets it: `npm pack`, installed into the fresh Nest app kept in
 * test/fixtures/consumer-app (in a temp folder, from the npm cache), compiled, booted against a
 * private redis-server and driven over HTTP.
 */
const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');
const FIXTURE = join(ROOT, 'test/fixtures/consumer-app');
const ADMIN_KEY = `admin-${randomBytes(12).toString('hex')}`;
const TOKEN_KEY = randomBytes(32).toString('base64');
const TOKEN = `consumer-token-${randomBytes(12).toString('hex')}`;
const ENTRIES = ['index', 'cache/index', 'sharekhan/index', 'orchestrator/index', 'auth/index'];

let tmp: string;
let tarball: string;
let files: string[];
let redis: RedisProcess;
let app: ChildProcess | undefined;
let base: string;
const output: string[] = [];

/** Names and times of the repo's dist/ (what `npm run start:prod` runs): packing must leave them be. */
function distListing(): string[] {
  const dist = join(ROOT, 'dist');
  if (!existsSync(dist)) return [];
  return readdirSync(dist, { recursive: true, encoding: 'utf8' }).map((f) => `${f}@${statSync(join(dist, f)).mtimeMs}`).sort();
}
const distBefore = distListing();

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'consumer-app-'));
  ({ tarball, files } = await packPackage(tmp));

  const dir = join(tmp, 'app');
  cpSync(FIXTURE, dir, { recursive: true, filter: (src) => !src.includes('node_modules') && !src.includes('/dist') });
  // The fixture's own dependencies (Nest, the peers) and the tarball, from the npm cache.
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], { cwd: dir, maxBuffer: 16 * 1024 * 1024 });
  await run(join(ROOT, 'node_modules/.bin/tsc'), ['-p', join(dir, 'tsconfig.json'), '--typeRoots', join(ROOT, 'node_modules/@types')], { cwd: dir });

  redis = await startRedis();
  const port = await freePort();
  app = spawn(process.execPath, ['dist/main.js'], {
    cwd: dir,
    env: { PATH: process.env.PATH, PORT: String(port), REDIS_URL: redis.url, ADMIN_API_KEY: ADMIN_KEY, TOKEN_KEY },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  app.stdout!.on('data', (b: Buffer) => output.push(b.toString()));
  app.stderr!.on('data', (b: Buffer) => output.push(b.toString()));
  base = `http://127.0.0.1:${port}`;
  await waitUntil(Date.now() + 30_000, `the consumer app to listen (output: ${output.join('')})`, async () => output.join('').includes('listening on'), 50);
  await waitUntil(Date.now() + 10_000, 'the cache to reach Redis', async () => (await health()).info?.cache?.mode === 'redis', 50);
}, 240_000);

afterAll(async () => {
  app?.kill('SIGKILL');
  await redis?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, any> }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'x-api-key': ADMIN_KEY, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function health() {
  return (await call('GET', '/health')).body as { status: string; info?: { cache?: { status: string; mode: string } } };
}

describe('the packed library in a fresh Nest app', () => {
  it("packing leaves the repo's dist/ as it was (npm run start:prod still runs after npm test)", () => {
    expect(distListing()).toEqual(distBefore);
  });

  it('the tarball holds the library build only, with types for every entry', () => {
    for (const entry of ENTRIES) {
      expect(files).toContain(`dist/${entry}.js`);
      expect(files).toContain(`dist/${entry}.d.ts`);
    }
    expect(files.filter((f) => /^dist\/(main|app\.|config\/|health\/|observability\/)|\.spec\./.test(f))).toEqual([]);
    expect(files.filter((f) => f.startsWith('src/') || f.startsWith('test/'))).toEqual([]);
    // The docs the README links to, and where the registry's page sends a reader.
    for (const doc of ['README.md', 'docs/cache.md', 'docs/sharekhan.md', 'docs/orchestrator.md', 'docs/operations.md']) expect(files).toContain(doc);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(pkg).toHaveProperty('repository.url');
    expect(pkg).toHaveProperty('homepage');
    expect(pkg).toHaveProperty('bugs.url');
  });

  it('its public types name only its dependencies and peers, never the Redis driver or Express (the app type-checked them with skipLibCheck: false)', () => {
    const app = JSON.parse(readFileSync(join(FIXTURE, 'tsconfig.json'), 'utf8')) as { compilerOptions: { skipLibCheck?: boolean } };
    expect(app.compilerOptions.skipLibCheck).toBe(false);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; dependencies: object; peerDependencies: object };
    const declared = new Set([...Object.keys(pkg.dependencies), ...Object.keys(pkg.peerDependencies)]);
    const named = declarationImports(join(tmp, 'app/node_modules', pkg.name, 'dist'), ENTRIES);
    const packageOf = (i: string) => i.split(' <- ')[0].split('/').slice(0, i.startsWith('@') ? 2 : 1).join('/');
    expect(named.filter((i) => /^(ioredis|express|redis-errors)\b/.test(i))).toEqual([]);
    expect(named.filter((i) => !i.startsWith('node:') && !declared.has(packageOf(i)))).toEqual([]);
  });

  it("the app's own service gets CacheService injected (values land in Redis)", async () => {
    expect((await call('PUT', '/notes/n1', { text: 'hello' })).body).toEqual({ stored: 'redis' });
    expect((await call('GET', '/notes/n1')).body).toEqual({ text: 'hello' });
    expect(await redis.client().exists('consumer:notes:n1')).toBe(1);
  });

  it('a token PUT and GET through ShareKhanAuthModule', async () => {
    const put = await call('PUT', '/sharekhan/users/PAPER_TRADER_001/token', { accessToken: TOKEN });
    expect(put.status).toBe(200);
    const get = await call('GET', '/sharekhan/users/PAPER_TRADER_001/token');
    expect(get.body).toMatchObject({ present: true, status: 'active', fingerprint: put.body.fingerprint, cacheMode: 'redis' });
    expect(JSON.stringify(get.body)).not.toContain(TOKEN);
  });

  it("OrchestratorModule's users bind ShareKhanAuthModule: no token for another user id", async () => {
    const put = await call('PUT', '/sharekhan/users/SOMEONE_ELSE/token', { accessToken: TOKEN });
    expect(put.status).toBe(404);
    expect(put.body).toMatchObject({ code: 'NOT_A_TRADING_USER' });
    expect((await call('GET', '/sharekhan/users/SOMEONE_ELSE/token')).body).toMatchObject({ present: false });
  });

  it('a paper order through OrchestratorModule, with that token', async () => {
    const order = { scripCode: 2885, tradingSymbol: 'RELIANCE', exchange: 'NC', transactionType: 'B', quantity: 1, price: '2500.50', requestType: 'NEW', productType: 'INVESTMENT' };
    const res = await call('POST', '/orchestrator/orders', { userId: 'PAPER_TRADER_001', order });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({ userId: 'PAPER_TRADER_001', mode: 'paper' });
  });

  it("its own Terminus endpoint uses the exported cache health indicator", async () => {
    expect(await health()).toMatchObject({ status: 'ok', info: { cache: { status: 'up', mode: 'redis' } } });
  });
});
