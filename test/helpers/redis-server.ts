import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect as tlsConnect } from 'node:tls';
import { Redis, type RedisOptions } from 'ioredis';
import { freePort } from './ports.js';
import type { TlsMaterial } from './tls.js';

export const REDIS_HOST = '127.0.0.1';

/** Every helper-owned instance dir lives here, named `<ownerPid>-<random>`, so orphans can be found. */
export const HELPERS_TMP_ROOT = join(tmpdir(), 'nest-redis-helpers');

const PID_FILE = '.server-pid';
const LOG_TAIL_CHARS = 6000;
const DEFAULT_START_TIMEOUT_MS = 5000;
const RESTART_BIND_RETRY_MS = 3000;
const STOP_GRACE_MS = 3000;
const PING_TIMEOUT_MS = 500;

export interface HostPort {
  host: string;
  port: number;
}

export interface StartRedisOptions {
  /** Fixed port; by default a free one is picked (and re-picked if another process grabs it first). */
  port?: number;
  /** Extra CLI args, appended last so they win, e.g. ['--maxmemory', '10mb']. */
  args?: string[];
  /** Sets `requirepass` (password of the `default` user). */
  password?: string;
  /** Path to an ACL file (`--aclfile`). Cannot be combined with `aclUsers`. */
  aclFile?: string;
  /**
   * ACL rules written to a private ACL file, one user per entry, without the leading `user`.
   * Example: a user that may only read/write keys under `app:`:
   *   aclUsers: ['app on >app-secret ~app:* resetchannels -@all +get +set +del +ping +info']
   * then `proc.client({ username: 'app', password: 'app-secret' })`; `GET other:x` fails with NOPERM.
   * The `default` user stays `on nopass +@all` unless you redefine it here.
   * (Alternatively pass `args: ['--user', 'app', 'on', '>app-secret', '~app:*', '+get']`.)
   */
  aclUsers?: string[];
  /** Serve TLS only: `--tls-port <port> --port 0`, clients need `tls: { ca }`. */
  tls?: TlsMaterial;
  /**
   * Redis working dir. Default: a private temp dir removed on stop(). A dir you pass is never
   * deleted, and restart() keeps whatever Redis persisted there.
   */
  dir?: string;
  /** Run as Sentinel: this text becomes the (writable) sentinel config file. */
  sentinelConfig?: string;
  /** Readiness timeout per launch (default 5000 ms). */
  startTimeoutMs?: number;
}

export interface RedisProcess {
  readonly host: string;
  readonly port: number;
  /** redis://127.0.0.1:port, or rediss:// when started with tls. */
  readonly url: string;
  /** PID of the current server process (changes after restart()). */
  readonly pid: number;
  readonly running: boolean;
  readonly paused: boolean;
  /** Redis working dir (cluster nodes.conf, sentinel config, rdb files). */
  readonly dir: string;
  readonly tls?: TlsMaterial;
  /** SIGKILL; resolves once the process is gone. The instance can be restart()ed. */
  kill(): Promise<void>;
  /** SIGSTOP: the port still accepts TCP connections but nothing is answered. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** Kill (if running) and start again on the same port with the same args and empty data. */
  restart(): Promise<void>;
  /**
   * A copy of the data files as of now: with AOF on, the AOF dir as fsynced so far; else `SAVE`
   * first (a save point, as `save` or BGSAVE would leave) and the RDB file. For restartFrom().
   */
  copyData(): Promise<RedisDataCopy>;
  /** Kill (if running), replace the data files with a copyData() and start again: Redis come back older. */
  restartFrom(copy: RedisDataCopy): Promise<void>;
  /** Graceful shutdown (SIGCONT, SIGTERM, SIGKILL after 3 s), closes client()s, removes temp dir. Idempotent, final. */
  stop(): Promise<void>;
  /** A plain ioredis client to this server (auth/tls pre-filled), disconnected on stop(). */
  client(overrides?: RedisOptions): Redis;
  /** host/port/password/tls options for building your own client. */
  connectionOptions(): RedisOptions;
  /** Last lines the server printed (its log goes to stdout). */
  logTail(): string;
}

/** Data files of a server at one moment (copyData()), kept in the instance's temp dir. */
export interface RedisDataCopy {
  readonly dir: string;
  readonly kind: 'rdb' | 'aof';
  /** Date.now() when the copy was taken: writes acknowledged after it are not in it. */
  readonly takenAt: number;
}

interface LiveChild {
  child: ChildProcess;
  instanceDir: string;
}

const liveChildren = new Set<LiveChild>();
let cleanupInstalled = false;

export async function startRedis(
  opts: StartRedisOptions = {},
): Promise<RedisProcess> {
  installProcessCleanup();
  if (opts.aclFile && opts.aclUsers) {
    throw new Error('startRedis: pass either aclFile or aclUsers, not both');
  }
  const instanceDir = join(
    HELPERS_TMP_ROOT,
    `${process.pid}-${randomBytes(6).toString('hex')}`,
  );
  mkdirSync(instanceDir, { recursive: true });
  const instance = new RedisInstance(opts, instanceDir);
  try {
    await instance.launch(opts.port === undefined);
  } catch (error) {
    await instance.stop();
    throw error;
  }
  return instance;
}

class RedisInstance implements RedisProcess {
  readonly host = REDIS_HOST;
  readonly dir: string;
  readonly tls?: TlsMaterial;
  private currentPort: number;
  private child: ChildProcess | undefined;
  private live: LiveChild | undefined;
  private exited: Promise<void> = Promise.resolve();
  private isRunning = false;
  private isPaused = false;
  private output = '';
  private stopping: Promise<void> | undefined;
  private readonly clients = new Set<Redis>();
  private readonly ownsDir: boolean;
  private readonly clusterBus: boolean;
  private copies = 0;

  constructor(
    private readonly opts: StartRedisOptions,
    private readonly instanceDir: string,
  ) {
    this.tls = opts.tls;
    this.currentPort = opts.port ?? 0;
    this.ownsDir = opts.dir === undefined;
    this.dir = opts.dir ?? join(instanceDir, 'data');
    mkdirSync(this.dir, { recursive: true });
    this.clusterBus = (opts.args ?? []).includes('--cluster-enabled');
    if (opts.sentinelConfig !== undefined) {
      writeFileSync(this.sentinelConfigPath(), opts.sentinelConfig);
    }
    if (opts.aclUsers) {
      writeFileSync(this.aclUsersPath(), opts.aclUsers.map(aclLine).join(''));
    }
  }

  get port(): number {
    return this.currentPort;
  }

  get url(): string {
    return `${this.tls ? 'rediss' : 'redis'}://${this.host}:${this.currentPort}`;
  }

  get pid(): number {
    return this.child?.pid ?? -1;
  }

  get running(): boolean {
    return this.isRunning;
  }

  get paused(): boolean {
    return this.isPaused;
  }

  logTail(): string {
    return this.safeOutput();
  }

  /** Redis echoes a rejected config line verbatim, which may hold a password. */
  private safeOutput(): string {
    let text = this.output
      .replace(/(^|[\s'"])([>#])(?![>#\s])[^\s"']+/g, '$1$2***')
      .replace(
        /\b(requirepass|masterauth|auth-pass\s+\S+)(\s+)\S+/gi,
        '$1$2***',
      );
    if (this.opts.password) text = text.split(this.opts.password).join('***');
    return text;
  }

  /** Spawns and waits for PING. A taken port is retried: re-picked if ours to pick, else waited for. */
  async launch(mayRepickPort: boolean): Promise<void> {
    const bindDeadline = Date.now() + RESTART_BIND_RETRY_MS;
    for (let attempt = 1; ; attempt++) {
      if (mayRepickPort)
        this.currentPort = await freePort({ clusterBus: this.clusterBus });
      this.spawnServer();
      const outcome = await this.waitReady();
      if (outcome === 'ready') return;
      const portTaken = /address already in use/i.test(this.output);
      if (portTaken && mayRepickPort && attempt < 5) continue;
      if (portTaken && !mayRepickPort && Date.now() < bindDeadline) {
        await sleep(150);
        continue;
      }
      throw new Error(
        `redis-server on port ${this.currentPort} exited before answering PING.\n--- server output ---\n${this.safeOutput()}`,
      );
    }
  }

  private spawnServer(): void {
    this.output = '';
    const child = spawn('redis-server', this.buildArgs(), {
      cwd: this.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const live: LiveChild = { child, instanceDir: this.instanceDir };
    liveChildren.add(live);
    this.child = child;
    this.live = live;
    this.isRunning = true;
    this.isPaused = false;
    const capture = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-LOG_TAIL_CHARS);
    };
    child.stdout?.on('data', capture);
    child.stderr?.on('data', capture);
    // A forgotten server must not keep the test worker alive; the exit hook kills it.
    child.unref();
    (child.stdout as Socket | null)?.unref?.();
    (child.stderr as Socket | null)?.unref?.();
    this.exited = new Promise((resolve) => {
      const gone = () => {
        liveChildren.delete(live);
        if (this.child === child) {
          this.isRunning = false;
          this.isPaused = false;
        }
        resolve();
      };
      child.once('exit', gone);
      // A failed spawn (e.g. redis-server not on PATH) may never emit 'exit'.
      child.once('error', (error) => {
        this.output += `\nspawn error: ${error.message}`;
        if (child.pid === undefined) gone();
      });
    });
    if (child.pid !== undefined) recordPid(this.instanceDir, child.pid);
  }

  private buildArgs(): string[] {
    const args: string[] = [];
    if (this.opts.sentinelConfig !== undefined)
      args.push(this.sentinelConfigPath(), '--sentinel');
    args.push(
      '--bind',
      this.host,
      '--daemonize',
      'no',
      '--dir',
      this.dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--logfile',
      '',
    );
    if (this.opts.sentinelConfig === undefined)
      args.push('--enable-debug-command', 'local');
    if (this.tls) {
      args.push(
        '--port',
        '0',
        '--tls-port',
        String(this.currentPort),
        '--tls-cert-file',
        this.tls.serverCertPath,
        '--tls-key-file',
        this.tls.serverKeyPath,
        '--tls-ca-cert-file',
        this.tls.caCertPath,
        '--tls-auth-clients',
        'optional',
      );
    } else {
      args.push('--port', String(this.currentPort));
    }
    if (this.opts.password !== undefined)
      args.push('--requirepass', this.opts.password);
    if (this.opts.aclFile !== undefined)
      args.push('--aclfile', this.opts.aclFile);
    if (this.opts.aclUsers !== undefined)
      args.push('--aclfile', this.aclUsersPath());
    args.push(...(this.opts.args ?? []));
    return args;
  }

  private async waitReady(): Promise<'ready' | 'exited'> {
    const timeoutMs = this.opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.exited.then(() => (exited = true));
    while (Date.now() < deadline) {
      if (exited || !this.isRunning) return 'exited';
      if (await pingOnce(this.currentPort, this.tls)) return 'ready';
      if (exited || !this.isRunning) return 'exited';
      await sleep(40);
    }
    await this.kill();
    throw new Error(
      `redis-server on port ${this.currentPort} did not answer PING within ${timeoutMs} ms.\n--- server output ---\n${this.safeOutput()}`,
    );
  }

  async kill(): Promise<void> {
    if (!this.isRunning || !this.child) return this.exited;
    signal(this.child, 'SIGKILL');
    await this.exited;
  }

  pause(): void {
    if (!this.isRunning || !this.child)
      throw new Error('pause(): redis-server is not running');
    signal(this.child, 'SIGSTOP');
    this.isPaused = true;
  }

  resume(): void {
    if (!this.child || !this.isRunning) return;
    signal(this.child, 'SIGCONT');
    this.isPaused = false;
  }

  async restart(): Promise<void> {
    if (this.stopping) throw new Error('restart(): instance was stopped');
    await this.kill();
    if (this.ownsDir) removeDataFiles(this.dir);
    await this.launch(false);
  }

  async copyData(): Promise<RedisDataCopy> {
    if (!this.isRunning)
      throw new Error('copyData(): redis-server is not running');
    const probe = this.client({
      maxRetriesPerRequest: 1,
      commandTimeout: 5000,
    });
    try {
      const [, aof] = (await probe.config('GET', 'appendonly')) as string[];
      const kind = aof === 'yes' ? 'aof' : 'rdb';
      if (kind === 'rdb') await probe.save();
      const takenAt = Date.now();
      const dir = join(this.instanceDir, `copy-${++this.copies}`);
      mkdirSync(dir, { recursive: true });
      for (const name of readdirSync(this.dir)) {
        if (isDataFile(name))
          cpSync(join(this.dir, name), join(dir, name), { recursive: true });
      }
      return { dir, kind, takenAt };
    } finally {
      probe.disconnect();
      this.clients.delete(probe);
    }
  }

  async restartFrom(copy: RedisDataCopy): Promise<void> {
    if (this.stopping) throw new Error('restartFrom(): instance was stopped');
    if (!existsSync(copy.dir))
      throw new Error(`restartFrom(): no copy at ${copy.dir}`);
    await this.kill();
    removeDataFiles(this.dir);
    cpSync(copy.dir, this.dir, { recursive: true });
    await this.launch(false);
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    for (const client of this.clients) client.disconnect();
    this.clients.clear();
    if (this.isRunning && this.child) {
      const child = this.child;
      signal(child, 'SIGCONT');
      signal(child, 'SIGTERM');
      const graceful = await Promise.race([
        this.exited.then(() => true),
        sleep(STOP_GRACE_MS).then(() => false),
      ]);
      if (!graceful) {
        signal(child, 'SIGKILL');
        await this.exited;
      }
    }
    if (this.live) liveChildren.delete(this.live);
    rmSync(this.instanceDir, { recursive: true, force: true });
  }

  connectionOptions(): RedisOptions {
    return {
      host: this.host,
      port: this.currentPort,
      ...(this.opts.password !== undefined
        ? { password: this.opts.password }
        : {}),
      ...(this.tls ? { tls: { ca: this.tls.ca } } : {}),
    };
  }

  client(overrides: RedisOptions = {}): Redis {
    if (this.stopping) throw new Error('client(): instance was stopped');
    const client = new Redis({ ...this.connectionOptions(), ...overrides });
    // Failures surface as rejected commands; the event would only spam the test output.
    client.on('error', () => {});
    this.clients.add(client);
    return client;
  }

  private sentinelConfigPath(): string {
    return join(this.dir, 'sentinel.conf');
  }

  private aclUsersPath(): string {
    return join(this.instanceDir, 'users.acl');
  }
}

function aclLine(rule: string): string {
  if (/[\r\n]/.test(rule))
    throw new Error('aclUsers: a rule must be a single line');
  return `user ${rule.replace(/^user\s+/, '')}\n`;
}

function signal(child: ChildProcess, sig: NodeJS.Signals): void {
  try {
    child.kill(sig);
  } catch {
    // Already gone: nothing to signal.
  }
}

/** Data files only: cluster nodes.conf and sentinel config survive, so node identity does too. */
function removeDataFiles(dir: string): void {
  for (const name of readdirSync(dir)) {
    if (isDataFile(name))
      rmSync(join(dir, name), { recursive: true, force: true });
  }
}

function isDataFile(name: string): boolean {
  return /\.(rdb|aof)$/.test(name) || name === 'appendonlydir';
}

/** Plain PING over a raw socket: any reply except LOADING proves the server accepts commands. */
function pingOnce(
  port: number,
  tls: TlsMaterial | undefined,
): Promise<boolean> {
  return new Promise((resolve) => {
    const socket: Socket = tls
      ? tlsConnect({ host: REDIS_HOST, port, ca: tls.ca })
      : netConnect({ host: REDIS_HOST, port });
    let reply = '';
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), PING_TIMEOUT_MS);
    socket.once(tls ? 'secureConnect' : 'connect', () =>
      socket.write('*1\r\n$4\r\nPING\r\n'),
    );
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n'))
        finish(/^[+-]/.test(reply) && !reply.startsWith('-LOADING'));
    });
    socket.once('error', () => finish(false));
    socket.once('close', () => finish(false));
  });
}

function recordPid(instanceDir: string, pid: number): void {
  try {
    writeFileSync(
      join(instanceDir, PID_FILE),
      `${pid} ${processStartTime(pid) ?? ''}\n`,
    );
  } catch {
    // Orphan reaping is best effort; the exit hook is the primary safety net.
  }
}

/** Kernel start time of a pid, so a recycled pid is never mistaken for our server. */
function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** A zombie (dead, not yet reaped by init) counts as dead, unlike with `kill(pid, 0)`. */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}

function killAllSync(): void {
  for (const { child, instanceDir } of liveChildren) {
    try {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    } catch {
      // Already exited.
    }
    try {
      rmSync(instanceDir, { recursive: true, force: true });
    } catch {
      // Leftovers are reaped by the next run.
    }
  }
  liveChildren.clear();
}

/**
 * Servers left behind by a test process that died by SIGKILL (no exit hook ran): their owner pid
 * is in the dir name, and the recorded start time proves the pid still is that server.
 */
export function reapOrphanedServers(): void {
  let entries: string[];
  try {
    entries = readdirSync(HELPERS_TMP_ROOT);
  } catch {
    return;
  }
  for (const entry of entries) {
    const ownerPid = Number(entry.split('-')[0]);
    if (
      !Number.isInteger(ownerPid) ||
      ownerPid === process.pid ||
      isAlive(ownerPid)
    )
      continue;
    const dir = join(HELPERS_TMP_ROOT, entry);
    try {
      const [pidText, startTime] = readFileSync(join(dir, PID_FILE), 'utf8')
        .trim()
        .split(' ');
      const pid = Number(pidText);
      if (pid > 0 && startTime && processStartTime(pid) === startTime)
        process.kill(pid, 'SIGKILL');
    } catch {
      // No pid file or process already gone.
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

function installProcessCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  reapOrphanedServers();
  process.on('exit', killAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      killAllSync();
      // Only re-raise when nobody else handles the signal, so default termination still happens.
      if (process.listenerCount(sig) === 1) {
        process.removeListener(sig, onSignal);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, onSignal);
  }
}

/**
 * One short-timeout client per node, made on first use: topology helpers poll many nodes, and a
 * default client would hang on a node a test has just killed. Closed with each node's stop().
 */
export function probeClients(): (node: RedisProcess) => Redis {
  const clients = new Map<RedisProcess, Redis>();
  return (node) => {
    let client = clients.get(node);
    if (!client) {
      client = node.client({ maxRetriesPerRequest: 1, commandTimeout: 1000 });
      clients.set(node, client);
    }
    return client;
  };
}
