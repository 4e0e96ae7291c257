/**
 * The fake ShareKhan of bench:orders in a process of its own (so the app's event loop serves only
 * the app): answers each POST /orders after BROKER_MS, prints its URL and one token per customer.
 */
import { startFakeShareKhan } from '../../test/helpers/fake-sharekhan.js';

const fake = await startFakeShareKhan({ secretKey: process.env.SK_SECRET!, apiKey: process.env.SK_API_KEY! });
fake.setLatency(Number(process.env.BROKER_MS ?? 30), '/orders');
const tokens = Array.from({ length: Number(process.env.CUSTOMERS ?? 200) }, (_, i) => fake.issueAccessToken(`C${i}`));
process.stdout.write(JSON.stringify({ baseUrl: fake.baseUrl, tokens }) + '\n');
process.on('SIGTERM', () => void fake.close().then(() => process.exit(0)));
