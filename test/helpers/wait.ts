import { setTimeout as sleep } from 'node:timers/promises';

const POLL_MS = 100;

/** Polls check until it returns true; a throwing check counts as "not yet". */
export async function waitUntil(
  deadline: number,
  what: string,
  check: () => Promise<boolean>,
  pollMs = POLL_MS,
): Promise<void> {
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    await sleep(pollMs);
  }
  throw new Error(
    `timed out waiting for ${what}${lastError ? ` (last error: ${describe(lastError)})` : ''}`,
  );
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : JSON.stringify(error);
}
