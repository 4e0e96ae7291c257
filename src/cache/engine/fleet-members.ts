import type { CacheGateway } from '../redis/cache-gateway.js';
import type { BeatReply, KnownMember } from '../redis/fleet-commands.js';

/** How often a member reports (and learns who else is there). */
export const FLEET_BEAT_MS = 500;
/** While a re-seed window is open, or while joining, beats come this often. */
const FAST_BEAT_MS = 100;
/** A newcomer waits at most this long for the others to have seen it (a dead member never will). */
const JOIN_WAIT_MS = 3 * FLEET_BEAT_MS;
/** A member not seen for this long is dropped from the roll call. */
const PRUNE_AFTER_MS = 60 * 60 * 1000;

/** A member as the last beat reported it. */
interface Member {
  /** Last beat, fleet ms. */
  seen: number;
  /** The number Redis gave that beat: which beats came after which, whatever the clocks. */
  beat: number;
  /** Shut down cleanly: never waited for, and written back as such. */
  left: boolean;
}

/** What a beat learns about the re-seed window (FLEET_BEAT_LUA's first reply). */
const WINDOW_OPEN = 1;
const MARKER_MISSING = 2;

/**
 * This instance's place in the fleet's roll call (fleet-scripts.ts): it reports on every beat,
 * keeps its own copy of who else is there (so it can write them back if Redis forgets them), and
 * learns when the fleet has re-seeded a Redis that forgot: the re-seed window is then closed, and
 * claims and confirmations may trust Redis again. Not used on Cluster (docs/cache.md).
 */
export class FleetMembers {
  /** Who is on the roll call, as of the last beat; survives Redis forgetting it. */
  private readonly known = new Map<string, Member>();
  /** The id of this instance's last finished recovery pass (`<run id>/<epoch>`). */
  doneId = '';
  /** As of the last beat or pass: a re-seed window is open, so Redis does not yet vouch for anything. */
  windowOpen = false;
  /** Fleet ms and beat number of this instance's first beat; null before it. */
  private joinedAt: number | null = null;
  private joinedBeat = 0;
  /** The others have seen this instance (or the join wait ran out): it may hold claims. */
  private joined = false;
  /** The ACL refuses the roll call's commands: windows then run their full length (one warning). */
  private disabled = false;
  private timer: NodeJS.Timeout | null = null;
  private beating: Promise<void> | null = null;
  private closing = false;

  constructor(
    private readonly gateway: CacheGateway,
    private readonly settings: {
      fleetKey: string;
      markerKey: string;
      memberId: string;
      memberTtlMs: number;
      clock: () => number;
    },
    private readonly warn: (line: string) => void,
    /** Another replica saw Redis forget (its window is not this instance's last pass), or the marker is gone. */
    private readonly stale: () => void,
  ) {}

  start(): void {
    this.schedule();
  }

  close(): void {
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** A clean shutdown leaves the roll call, so no window waits for this instance. */
  async leave(): Promise<void> {
    this.close();
    if (this.disabled || !this.gateway.available) return;
    const { fleetKey: key, memberId, clock } = this.settings;
    // Marked, not deleted: an older copy of Redis that still lists this member must learn it left.
    await this.gateway.fleet.leave(key, memberId, clock()).catch(() => undefined);
  }

  /**
   * An instance holds no claim before the others know of it: a Redis that forgot it could let the
   * fleet close a window without waiting for it, while it holds a claim Redis lost.
   */
  mayClaim(): boolean {
    return this.disabled || this.joined;
  }

  /**
   * After the first recovery pass: beats until every member live at the join has beaten since
   * (so its copy of the roll call has this instance), at most JOIN_WAIT_MS. Never throws.
   */
  async join(): Promise<void> {
    const until = performance.now() + JOIN_WAIT_MS;
    while (!this.joined && !this.closing && !this.disabled) {
      await this.beat().catch(() => undefined);
      if (this.joinedAt !== null && this.othersSawMe()) break;
      if (performance.now() >= until) break;
      await sleep(FAST_BEAT_MS);
    }
    this.joined = true;
  }

  /**
   * The window waits for every member seen within the member TTL (plus a beat's lag) of the
   * fleet's last sign of life that this instance knows of: those may hold claims Redis lost.
   */
  since(): number {
    let last = 0;
    for (const m of this.known.values()) if (m.seen > last) last = m.seen;
    const lag = this.settings.memberTtlMs + 2 * FLEET_BEAT_MS;
    return (last === 0 ? this.settings.clock() : last) - lag;
  }

  /** Members seen within the member TTL, as of the last beat. */
  liveMembers(): number {
    const since = this.settings.clock() - this.settings.memberTtlMs;
    let n = 0;
    for (const m of this.known.values()) if (m.seen >= since && !m.left) n++;
    return n;
  }

  /** Reports now (after a pass, or on the timer); one beat at a time. */
  beat(): Promise<void> {
    if (this.beating) return this.beating;
    this.beating = this.beatOnce().finally(() => {
      this.beating = null;
    });
    return this.beating;
  }

  /** Writes back the members this instance knew, into a Redis that forgot them. */
  async writeBack(): Promise<void> {
    if (this.disabled) return;
    const members: KnownMember[] = [];
    for (const [id, m] of this.known) if (id !== this.settings.memberId) members.push({ id, seen: m.seen, left: m.left });
    if (members.length === 0) return;
    await this.gateway.fleet.merge(this.settings.fleetKey, members);
  }

  private othersSawMe(): boolean {
    const joinedAt = this.joinedAt!;
    for (const [id, m] of this.known) {
      if (id === this.settings.memberId || m.left) continue;
      // Live at the join but no beat after it: its copy of the roll call lacks this instance.
      if (m.seen >= joinedAt - JOIN_WAIT_MS && m.beat < this.joinedBeat) return false;
    }
    return true;
  }

  private async beatOnce(): Promise<void> {
    if (this.disabled) return;
    const s = this.settings;
    const now = s.clock();
    let reply: BeatReply;
    try {
      reply = await this.gateway.fleet.beat(s.fleetKey, s.markerKey, s.memberId, now, this.doneId, PRUNE_AFTER_MS);
    } catch (err) {
      if (!/NOPERM/.test((err as Error).message)) throw err;
      this.disabled = true;
      this.windowOpen = false;
      this.warn(
        `The cache's Redis user may not run the fleet roll call (${(err as Error).message}): grant +hset +hget +hgetall +hdel +hincrby (docs/topologies.md); until then a re-seed window after Redis forgets runs its full length`,
      );
      return;
    }
    const state = reply.state;
    this.windowOpen = state === WINDOW_OPEN;
    for (const m of reply.members) {
      const seen = Math.max(m.seen, this.known.get(m.id)?.seen ?? 0);
      this.known.set(m.id, { seen, beat: m.beat, left: m.left });
    }
    for (const [id, { seen }] of this.known) {
      if (seen >= now - PRUNE_AFTER_MS) continue;
      this.known.delete(id);
    }
    if (this.joinedAt === null) {
      this.joinedAt = now;
      this.joinedBeat = this.known.get(s.memberId)?.beat ?? 0;
    }
    // Redis forgot and another replica noticed first (a FLUSHALL this one has not seen): recover now.
    if (
      state === MARKER_MISSING ||
      (state === WINDOW_OPEN && reply.windowId !== this.doneId)
    )
      this.stale();
  }

  private schedule(): void {
    if (this.closing) return;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        const due = this.gateway.available
          ? this.beat().catch(() => undefined)
          : Promise.resolve();
        void due.finally(() => this.schedule());
      },
      this.windowOpen ? FAST_BEAT_MS : FLEET_BEAT_MS,
    );
    this.timer.unref();
  }
}

/** The roll call's key: beside the marker (which is exactly the prefix), never a cache key. */
export function fleetKey(keyPrefix: string): string {
  return `${keyPrefix}\x1ffleet`;
}

const sleep = (ms: number) =>
  new Promise<void>((r) => setTimeout(r, ms).unref());
