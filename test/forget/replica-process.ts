import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../helpers/ports.js';
import { waitUntil } from '../helpers/wait.js';

const START_TIMEOUT_MS = 30_000;
const OUTPUT_TAIL_CHARS = 8_000;

/** One app replica as its own `node` process (the way a pod runs it), killable with SIGKILL. */
export interface ReplicaProcess {
  readonly name: string;
  readonly url: string;
  readonly running: boolean;
  /** Spawns it (again, same port and env: the same pod, same snapshot volume) and waits for /health/live. */
  start(): Promise<void>;
  /** SIGKILL: no shutdown hook, no last snapshot write. */
  kill(): Promise<void>;
  output(): string;
}

const live = new Set<ChildProcess>();
let exitHook = false;

export async function replicaProcess(
  name: string,
  entry: string,
  env: Record<string, string>,
): Promise<ReplicaProcess> {
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const child of live) child.kill('SIGKILL');
    });
  }
  const port = await freePort();
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = '';
  const url = `http://127.0.0.1:${port}`;
  const self: ReplicaProcess = {
    name,
    url,
    get running() {
      return (
        child !== undefined &&
        child.exitCode === null &&
        child.signalCode === null
      );
    },
    async start() {
      if (self.running) throw new Error(`${name} is already running`);
      const c = spawn(process.execPath, [entry], {
        env: { PATH: process.env.PATH ?? '', ...env, PORT: String(port) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = c;
      live.add(c);
      exited = new Promise((resolve) =>
        c.once('exit', () => (live.delete(c), resolve())),
      );
      const capture = (b: Buffer) =>
        (output = (output + b.toString()).slice(-OUTPUT_TAIL_CHARS));
      c.stdout!.on('data', capture);
      c.stderr!.on('data', capture);
      await waitUntil(
        Date.now() + START_TIMEOUT_MS,
        `${name} to listen (output: ${output.slice(-2000)})`,
        async () => {
          if (!self.running)
            throw new Error(`${name} exited: ${output.slice(-2000)}`);
          const res = await fetch(`${url}/health/live`, {
            signal: AbortSignal.timeout(1000),
          });
          return res.status === 200;
        },
        50,
      );
    },
    async kill() {
      if (!child || !self.running) return;
      child.kill('SIGKILL');
      await Promise.race([exited, sleep(5000)]);
    },
    output: () => output,
  };
  return self;
}
