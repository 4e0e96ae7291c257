import type { CommandExecutor } from './command-executor.js';

/** Questions about the Redis server itself (no key): its clock and which process it is. */
export class ServerCommands {
  constructor(private readonly exec: CommandExecutor) {}

  /** TIME: [seconds, microseconds] as Redis reports them. */
  time(): Promise<(string | number)[]> {
    return this.exec.run('time', (c) => c.time());
  }

  /** INFO server (run_id among it). */
  info(): Promise<string> {
    return this.exec.run('info', (c) => c.info('server'));
  }
}
