/**
 * The app of bench:orders in a process of its own (so the bench's client and the app do not share
 * an event loop, as a real client would not): reads its settings from BENCH_CONFIG, prints its URL.
 */
import type { AddressInfo } from 'node:net';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { AppModule } from '../../src/app.module.js';
import { configureApp } from '../../src/app.setup.js';
import { CacheService } from '../../src/cache/index.js';
import { loadConfig } from '../../src/config/load-config.js';

const config = loadConfig(JSON.parse(process.env.BENCH_CONFIG!) as Record<string, string>);
// A limit that allows a whole signal at once (the default is 10/s: docs/orchestrator.md).
config.orchestrator.brokerOrdersPerSecond = Number(process.env.BROKER_ORDERS_PER_SECOND ?? 1_000);
const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] }).compile();
const app = moduleRef.createNestApplication<NestExpressApplication>({ bodyParser: false });
configureApp(app, config);
await app.listen(0, '127.0.0.1');
const cache = app.get(CacheService);
while (cache.mode !== 'redis') await new Promise((r) => setTimeout(r, 20));
process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}` }) + '\n');
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
