import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * This instance's name on the fleet's roll call. With a snapshot file it is kept beside it
 * (`<path>.member`), so a replica restarted on its snapshot (which brings back what it held)
 * answers for its old self and the fleet need not wait out the re-seed window for it. Without
 * one, each process is new: what it held died with it.
 */
export function memberIdFor(snapshotPath: string | null, instanceId: string): string {
  if (snapshotPath === null) return instanceId;
  const file = `${snapshotPath}.member`;
  try {
    const kept = readFileSync(file, 'utf8').trim();
    if (/^[a-z0-9]{8,32}$/.test(kept)) return kept;
  } catch {
    // First start on this volume.
  }
  const id = randomBytes(8).toString('hex');
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${id}\n`, { mode: 0o600 });
  } catch {
    // Unwritable: a name for this process only, as without a snapshot.
  }
  return id;
}
