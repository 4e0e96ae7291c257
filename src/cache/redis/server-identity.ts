import type { CacheGateway } from './cache-gateway.js';

/**
 * Which Redis process answers: its `run_id` (INFO server), new on every start and different on
 * every other server. A Redis whose run id changed since this instance's last recovery pass
 * restarted (from any save, or none) or was replaced (failover, DNS), so it may have forgotten
 * acknowledged writes even though the marker is still there (docs/cache.md, "Redis that forgets").
 */
export class ServerIdentity {
  /** The run id of the Redis this instance last finished a recovery pass on; null before the first. */
  current: string | null = null;
  private denied = false;

  constructor(
    private readonly gateway: CacheGateway,
    private readonly warn: (line: string) => void,
  ) {}

  /** The run id Redis reports now; null on Cluster (one per node) and when the ACL denies INFO. */
  async read(): Promise<string | null> {
    if (this.gateway.isCluster || this.denied) return null;
    let info: string;
    try {
      info = await this.gateway.server.info();
    } catch (err) {
      if (!/NOPERM/.test((err as Error).message)) throw err;
      this.denied = true;
      this.warn(
        `The cache's Redis user may not run INFO (${(err as Error).message}): grant +info (docs/topologies.md); until then a Redis that restarts from an older save is not noticed`,
      );
      return null;
    }
    return runIdOf(info);
  }
}

export function runIdOf(info: string): string | null {
  const m = /^run_id:([0-9a-f]+)\s*$/m.exec(info);
  return m ? m[1] : null;
}
