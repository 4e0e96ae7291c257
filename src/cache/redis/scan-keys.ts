import type { Cluster, Redis } from 'ioredis';
import type { CommandExecutor } from './command-executor.js';
import { CircuitOpenError } from './circuit-breaker.js';

/** Keys per SCAN step: Redis does a bounded amount of work per call, so other clients never wait long. */
export const SCAN_COUNT = 200;

/**
 * SCANs every node (every master on Cluster) for string keys starting with `prefix`, one bounded
 * step per command through the executor (deadline, breaker); never KEYS. `onBatch` runs between steps.
 * Throws (after scanning the others) when a Cluster master was skipped because its breaker is open.
 */
export async function scanKeys(exec: CommandExecutor, prefix: string, onBatch: (keys: string[]) => Promise<void>): Promise<void> {
  const nodes: Redis[] = exec.isCluster ? (exec.client as Cluster).nodes('master') : [exec.client as Redis];
  const pattern = `${escapeGlob(prefix)}*`;
  const open = new Set(exec.breakerOpenNodes);
  let skipped = false;
  for (const node of nodes) {
    // Cluster: a master whose own breaker is open would only time out; the others are still scanned.
    if (open.size > 0 && open.has(`${node.options.host}:${node.options.port}`)) {
      skipped = true;
      continue;
    }
    let cursor = '0';
    do {
      // TYPE string: other structures under the prefix (logs, sets) are not cache records.
      const [next, keys] = await exec.run('scan', () => node.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT, 'TYPE', 'string'));
      cursor = next;
      if (keys.length > 0) await onBatch(keys);
    } while (cursor !== '0');
  }
  if (skipped) throw new CircuitOpenError();
}

/** A prefix taken literally in a SCAN MATCH pattern. */
export function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
