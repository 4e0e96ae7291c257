import { onTestFinished } from 'vitest';
import type { CacheService } from '../../src/cache/index.js';
import { resolveShareKhanOptions } from '../../src/sharekhan/sharekhan.options.js';
import { TokenAuditLog } from '../../src/sharekhan/tokens/token-audit.service.js';
import { TokenClock } from '../../src/sharekhan/tokens/token-clock.js';
import { TokenKeyRing } from '../../src/sharekhan/tokens/token-crypto.js';
import { ShareKhanTokenStore } from '../../src/sharekhan/tokens/token-store.service.js';
import { startCache, waitForMode } from '../cache/cache-harness.js';

/** A token store on its own cache (one replica) against a real Redis, closed when the test finishes. */
export async function useTokenStoreReplica(redisUrl: string, prefix: string, instanceId: string, keyBase64: string): Promise<{ store: ShareKhanTokenStore; cache: CacheService }> {
  const cache = await startCache({ url: redisUrl, keyPrefix: prefix, instanceId });
  await waitForMode(cache, 'redis');
  onTestFinished(() => cache.onApplicationShutdown());
  const settings = resolveShareKhanOptions({ encryption: { keys: [{ id: 'k1', keyBase64 }] } });
  const clock = new TokenClock();
  const store = new ShareKhanTokenStore(cache, TokenKeyRing.fromBase64(settings.encryption.keys, 'k1'), clock, new TokenAuditLog(cache, clock, settings), settings);
  return { store, cache };
}
