import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { MIN_NODE } from '../src/node-version.js';
import { buildAppToTemp, type AppBuild } from './helpers/app-build.js';
import { freePort, waitUntil } from './helpers/index.js';

/**
 * The built app as an operator starts it (`node dist/main.js` from a clean environment, built into
 * a temp folder): what it prints on its first screen and how it refuses to start.
 */
const ROOT = resolve(import.meta.dirname, '..');
let build: AppBuild;

beforeAll(async () => {
  build = await buildAppToTemp();
}, 240_000);
afterAll(() => build?.remove());

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function startMain(env: Record<string, string>, nodeArgs: string[] = []) {
  const child = spawn(process.execPath, [...nodeArgs, build.main], {
    cwd: build.dir,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run: Run = { code: null, stdout: '', stderr: '' };
  child.stdout.on('data', (b: Buffer) => (run.stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (run.stderr += b.toString()));
  const exited = new Promise<Run>((done) =>
    child.on('exit', (code) => done(Object.assign(run, { code }))),
  );
  onTestFinished(() => {
    if (run.code === null) child.kill('SIGKILL');
  });
  return { run, exited };
}

const byText = (a: string, b: string) => a.localeCompare(b);
const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');

describe('start-up refusals', () => {
  it('production with the values of deploy/secret.example.yaml exits 1 with one line per variable, echoing none', async () => {
    const example = (
      parse(
        readFileSync(resolve(ROOT, 'deploy/secret.example.yaml'), 'utf8'),
      ) as { stringData: Record<string, string> }
    ).stringData;
    const { run, exited } = startMain({ NODE_ENV: 'production', ...example });
    await exited;
    expect(run.code).toBe(1);
    const out = lines(run.stderr);
    // Each example secret, plus TRADING_USERS, which the example leaves out.
    expect(
      out
        .map((l) => /^Invalid configuration: ([A-Z_0-9]+)=/.exec(l)?.[1] ?? l)
        .sort(byText),
    ).toEqual([...Object.keys(example), 'TRADING_USERS'].sort(byText));
    expect(run.stderr + run.stdout).not.toMatch(
      /CHANGE_ME|successfully started|Listening/,
    );
  });

  it('an older Node than package.json engines says so in one line and exits 1', async () => {
    expect(
      JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')).engines
        .node,
    ).toBe(`>=${MIN_NODE.replace(/\.0$/, '')}`);
    const pretend =
      "data:text/javascript,Object.defineProperty(process.versions,'node',{value:'20.11.0'})";
    const { run, exited } = startMain({ NODE_ENV: 'development' }, [
      '--import',
      pretend,
    ]);
    await exited;
    expect(run.code).toBe(1);
    expect(lines(run.stderr)).toEqual([
      'Node 20.11.0 is too old for this app: it needs Node >= 22.12.0 (package.json engines); install Node 22.12 or newer (24 recommended) and start again.',
    ]);
    expect(run.stdout).toBe('');
  });

  it('a port in use fails start-up without first claiming it started', async () => {
    const port = await freePort();
    const holder: Server = createServer();
    await new Promise<void>((done) => holder.listen(port, done));
    onTestFinished(
      () => new Promise<void>((done) => holder.close(() => done())),
    );
    const { run, exited } = startMain({
      NODE_ENV: 'test',
      PORT: String(port),
      LOG_LEVEL: 'info',
    });
    await exited;
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/Start-up failed: .*EADDRINUSE/);
    expect(run.stdout + run.stderr).not.toMatch(
      /successfully started|Listening on port/,
    );
  });
});

describe('the first screen', () => {
  it('says where the console and the docs are, in one line, and keeps route mapping below info', async () => {
    const port = await freePort();
    const { run } = startMain({
      NODE_ENV: 'test',
      PORT: String(port),
      LOG_LEVEL: 'info',
    });
    await waitUntil(
      Date.now() + 60_000,
      `the app to listen (output: ${run.stdout}${run.stderr})`,
      async () => run.stdout.includes('API docs'),
      50,
    );
    const out = lines(run.stdout).map(
      (l) => JSON.parse(l) as { msg: string; context?: string },
    );
    expect(out.filter((l) => l.msg.includes('/console'))).toEqual([
      expect.objectContaining({
        context: 'Bootstrap',
        msg: `Console: http://localhost:${port}/console; API docs: http://localhost:${port}/docs`,
      }),
    ]);
    expect(
      out.filter((l) =>
        /Mapped \{|RoutesResolver|dependencies initialized|successfully started/.test(
          l.msg,
        ),
      ),
    ).toEqual([]);
    expect(out.length).toBeLessThan(15);
  });
});
