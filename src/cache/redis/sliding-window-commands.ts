import type { CommandExecutor } from './command-executor.js';

/** Sliding-window logs (scripts/sliding-window-script.ts): one script call asks for a batch of slots on one key. */
export class SlidingWindowCommands {
  constructor(private readonly exec: CommandExecutor) {}

  /**
   * SLIDING_WINDOW_LUA: up to `want` slots while fewer than `limit` are taken (members named after
   * `member`), or with `blockMs` > 0 the window filled for that long; how many were granted and the
   * ms until one may free up.
   */
  async take(key: string, windowMs: number, limit: number, want: number, member: string, blockMs: number): Promise<{ granted: number; waitMs: number }> {
    const [granted, waitMs] = await this.exec.runFor('slidingWindow', key, (c) =>
      c.slidingWindow(key, String(windowMs), String(limit), String(want), member, String(blockMs)),
    );
    return { granted: Number(granted), waitMs: Number(waitMs) };
  }
}
