import type { CommandExecutor } from './command-executor.js';

/**
 * The deployment's marker key (exactly the prefix) and the re-seed window kept in its value
 * (scripts/reseed-window.ts, scripts/fleet-scripts.ts). Each call is one bounded command.
 */
export class MarkerCommands {
  constructor(private readonly exec: CommandExecutor) {}

  /** The marker by a GET of its own, never coalesced (Cluster's claims check the window with it within their deadline). */
  read(markerKey: string, deadline?: number): Promise<string | null> {
    return this.exec.runFor('get', markerKey, (c) => c.get(markerKey), deadline);
  }

  /** Sets the marker to `value` unless one is there (SET NX); true when this one was set. */
  async setIfAbsent(markerKey: string, value: string): Promise<boolean> {
    return (await this.exec.runFor('set', markerKey, (c) => c.set(markerKey, value, 'NX'))) === 'OK';
  }

  /** OPEN_WINDOW_LUA: opens or extends the re-seed window (a new epoch if the marker is missing); the marker now in force. */
  openWindow(markerKey: string, epoch: string, windowMs: number, now: number): Promise<string> {
    return this.exec.runFor('openReseedWindow', markerKey, (c) => c.openReseedWindow(markerKey, epoch, String(windowMs), String(now)));
  }

  /**
   * OPEN_FLEET_WINDOW_LUA: the same, the window named after the Redis process that forgot (`runId`)
   * and waiting for every member seen since `since`; the marker now in force.
   */
  openFleetWindow(markerKey: string, fleetKey: string, epoch: string, windowMs: number, now: number, runId: string | null, since: number): Promise<string> {
    return this.exec.run('openFleetWindow', (c) => c.openFleetWindow(markerKey, fleetKey, epoch, String(windowMs), String(now), runId ?? '', String(since)));
  }
}
