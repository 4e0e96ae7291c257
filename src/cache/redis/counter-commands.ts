import type { CommandExecutor } from './command-executor.js';

/** Fixed-window counters (scripts/counter-script.ts): one script call counts a batch of hits on one key. */
export class CounterCommands {
  constructor(private readonly exec: CommandExecutor) {}

  /** INCR_WINDOW_LUA: `by` hits; the count after the last one and the ms until the window ends. */
  async incrWindow(key: string, windowMs: number, by: number): Promise<{ count: number; remainingMs: number }> {
    const [count, remainingMs] = await this.exec.runFor('incrWindow', key, (c) => c.incrWindow(key, String(windowMs), String(by)));
    return { count: Number(count), remainingMs: Number(remainingMs) };
  }
}
