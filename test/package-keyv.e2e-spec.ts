import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { packPackage } from './helpers/pack.js';
import { startRedis, type RedisProcess } from './helpers/index.js';

/**
 * The cache entry as a cache-only user gets it: `npm pack`, installed into the fresh folder kept in
 * test/fixtures/keyv-consumer with only the cache entry's peers (no Terminus, Swagger, schedule,
 * throttler or Express), keyv 5 and keyv 6 side by side (npm aliases) and Keyv's own store suite.
 */
const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');
const FIXTURE = join(ROOT, 'test/fixtures/keyv-consumer');
const OPTIONAL_PEERS = [
  '@nestjs/platform-express',
  '@nestjs/schedule',
  '@nestjs/swagger',
  '@nestjs/terminus',
  '@nestjs/throttler',
];

let tmp: string;
let dir: string;
let redis: RedisProcess;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'keyv-consumer-'));
  // From a copy of the sources: the repo's dist/ is left as it is (test/helpers/pack.ts).
  const { tarball } = await packPackage(tmp);
  dir = join(tmp, 'app');
  cpSync(FIXTURE, dir, {
    recursive: true,
    filter: (src) => !src.includes('node_modules') && !src.includes('/dist'),
  });
  await run(
    'npm',
    [
      'install',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      tarball,
    ],
    { cwd: dir, maxBuffer: 16 * 1024 * 1024 },
  );
  redis = await startRedis();
}, 300_000);

afterAll(async () => {
  await redis?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('the cache entry in a fresh folder with only its peers', () => {
  it('npm installed none of the optional peers, and keyv 5 and keyv 6 side by side', () => {
    for (const peer of OPTIONAL_PEERS)
      expect(existsSync(join(dir, 'node_modules', peer)), peer).toBe(false);
    const version = (name: string) =>
      (
        JSON.parse(
          readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8'),
        ) as { version: string }
      ).version;
    expect(version('keyv5')).toMatch(/^5\./);
    expect(version('keyv6')).toMatch(/^6\./);
  });

  it('a cache-only app type-checks with skipLibCheck: false, builds and runs against Redis', async () => {
    await run(
      join(ROOT, 'node_modules/.bin/tsc'),
      [
        '-p',
        join(dir, 'tsconfig.json'),
        '--typeRoots',
        join(ROOT, 'node_modules/@types'),
      ],
      { cwd: dir },
    );
    const out = await run(process.execPath, ['dist/main.js'], {
      cwd: dir,
      env: { PATH: process.env.PATH, REDIS_URL: redis.url },
      timeout: 30_000,
    });
    expect(JSON.parse(out.stdout.trim().split('\n').at(-1)!)).toEqual({
      mode: 'redis',
      stored: 'redis',
      read: { from: 'cache-only app' },
    });
    expect(await redis.client().exists('cache-only:hello')).toBe(1);
  }, 120_000);

  it("Keyv's whole store suite with its iterator tests, on keyv 5 and keyv 6, in memory mode and on Redis: every test passes", async () => {
    const report = join(tmp, 'keyv-report.json');
    await run(
      join(dir, 'node_modules/.bin/vitest'),
      ['run', 'src/keyv.test.js', '--reporter=json', `--outputFile=${report}`],
      {
        cwd: dir,
        env: { PATH: process.env.PATH, REDIS_URL: redis.url },
        maxBuffer: 16 * 1024 * 1024,
      },
    ).catch(() => undefined);
    const result = JSON.parse(readFileSync(report, 'utf8')) as {
      numTotalTests: number;
      numPassedTests: number;
      testResults: {
        assertionResults: {
          fullName: string;
          status: string;
          failureMessages: string[];
        }[];
      }[];
    };
    const failed = result.testResults.flatMap((f) =>
      f.assertionResults
        .filter((a) => a.status !== 'passed')
        .map(
          (a) => `${a.fullName}: ${a.failureMessages.join(' ').slice(0, 300)}`,
        ),
    );
    expect(failed).toEqual([]);
    // 38 suite tests + 4 iterator tests + the namespace test, for each of the four combinations.
    expect(result.numPassedTests).toBe(4 * 43);
  }, 180_000);
});
