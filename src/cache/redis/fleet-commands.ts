import type { CommandExecutor } from './command-executor.js';

/** One member of the roll call as a beat reports it. */
export interface BeatMember {
  id: string;
  /** Its last beat, fleet ms. */
  seen: number;
  /** The number Redis gave that beat. */
  beat: number;
  /** It shut down cleanly. */
  left: boolean;
}

/** What FLEET_BEAT_LUA answers: the window's state (0 closed, 1 open, 2 marker missing), its id, the roll call. */
export interface BeatReply {
  state: number;
  windowId: string;
  members: BeatMember[];
}

/** A member to write back into a Redis that forgot the roll call. */
export interface KnownMember {
  id: string;
  seen: number;
  left: boolean;
}

/** The fleet's roll call in one hash beside the marker (scripts/fleet-scripts.ts); each call one bounded command. */
export class FleetCommands {
  constructor(private readonly exec: CommandExecutor) {}

  /** FLEET_BEAT_LUA: reports `memberId` (done with pass `doneId`), prunes members silent for `pruneMs`, may close the window. */
  async beat(fleetKey: string, markerKey: string, memberId: string, now: number, doneId: string, pruneMs: number): Promise<BeatReply> {
    const reply = await this.exec.run('fleetBeat', (c) => c.fleetBeat(fleetKey, markerKey, memberId, String(now), doneId, String(pruneMs)));
    const members: BeatMember[] = [];
    for (let i = 2; i < reply.length; i += 4) {
      members.push({ id: String(reply[i]), seen: Number(reply[i + 1]), beat: Number(reply[i + 2]), left: Number(reply[i + 3]) === 1 });
    }
    return { state: Number(reply[0]), windowId: String(reply[1]), members };
  }

  /** FLEET_MERGE_LUA: the members this instance knew, written back where Redis holds an older entry. */
  merge(fleetKey: string, members: readonly KnownMember[]): Promise<1> {
    const args: string[] = [];
    for (const m of members) args.push(m.id, String(m.seen), m.left ? '1' : '0');
    return this.exec.run('fleetMerge', (c) => c.fleetMerge(fleetKey, ...args));
  }

  /** Marks `memberId` as left at `at` (marked, not deleted: an older copy of Redis that lists it must learn it left). */
  leave(fleetKey: string, memberId: string, at: number): Promise<number> {
    return this.exec.run('hset', (c) => c.hset(fleetKey, memberId, `${at}|left|0`));
  }
}
