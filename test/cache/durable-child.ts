/**
 * One cache replica in its own process, for durable-writes.e2e-spec.ts: it makes one write, prints
 * `ACK <json>` the moment the write is acknowledged, then idles until the test SIGKILLs it. Its
 * snapshot is debounced for a minute, so whatever survives the kill survives without the snapshot.
 */
import { Logger } from '@nestjs/common';
import { loadConfig } from '../../src/config/load-config.js';
import { resolveShareKhanOptions } from '../../src/sharekhan/sharekhan.options.js';
import { TokenAuditLog } from '../../src/sharekhan/tokens/token-audit.service.js';
import { TokenClock } from '../../src/sharekhan/tokens/token-clock.js';
import { TokenKeyRing } from '../../src/sharekhan/tokens/token-crypto.js';
import { ShareKhanTokenStore } from '../../src/sharekhan/tokens/token-store.service.js';
import { startCache, waitForMode } from './cache-harness.js';

export interface ChildOrder {
  port: number;
  snapshotPath: string;
  snapshotKey: string;
  tokenKeys: string;
  op: 'claim' | 'submit' | 'revoke';
  key: string;
  value: string;
}

Logger.overrideLogger(false);
const order = JSON.parse(process.env.DURABLE_CHILD ?? '{}') as ChildOrder;
const cache = await startCache({
  port: order.port,
  keyPrefix: 't:',
  instanceId: 'child',
  snapshot: {
    path: order.snapshotPath,
    key: order.snapshotKey,
    debounceMs: 60_000,
  },
  commandTimeoutMs: 250,
  reconnect: { baseDelayMs: 20, maxDelayMs: 200 },
});
await waitForMode(cache, 'redis');
const config = resolveShareKhanOptions(
  loadConfig({ NODE_ENV: 'test', TOKEN_ENCRYPTION_KEYS: order.tokenKeys })
    .sharekhan,
);
const clock = new TokenClock();
const store = new ShareKhanTokenStore(
  cache,
  TokenKeyRing.fromBase64(
    config.encryption.keys,
    config.encryption.activeKeyId,
  ),
  clock,
  new TokenAuditLog(cache, clock, config),
  config,
);
const actor = { who: 'crash-test', source: 'api' };

let ack: unknown;
if (order.op === 'claim')
  ack = await cache.setIfAbsent(order.key, order.value, { ttlMs: 600_000 });
else if (order.op === 'submit')
  ack = (
    await store.submit(order.key, {
      accessToken: order.value,
      source: 'manual',
      actor,
    })
  ).view.fingerprint;
else ack = await store.revoke(order.key, actor);
process.stdout.write(`ACK ${JSON.stringify(ack)}\n`);
setInterval(() => undefined, 60_000);
