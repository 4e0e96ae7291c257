import { readFileSync } from 'node:fs';
import request from 'supertest';
import { createTestApp } from './helpers/app.js';

/** The README's "quick local try" is the first thing a new operator runs: it has to work as written. */
describe("the README's quick local try", () => {
  const readme = readFileSync('README.md', 'utf8');
  const block =
    /A quick local try:\s*```bash\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';

  it('starts with the shown variables and stores the shown token (200)', async () => {
    const startLine = block.split('\n').find((l) => l.includes('npm start'))!;
    const env = Object.fromEntries(
      [...startLine.matchAll(/([A-Z_]+)=(\S+)/g)].map(([, k, v]) => [k, v]),
    );
    expect(env.API_KEYS).toBeDefined();
    const curl = block.replace(/\\\n\s*/g, ' ');
    const method = /-X (\w+)/.exec(curl)![1].toLowerCase() as 'put';
    const path = /localhost:\d+(\S+)/.exec(curl)![1];
    const key = /-H 'x-api-key: ([^']+)'/.exec(curl)![1];
    const body = JSON.parse(/-d '([^']+)'/.exec(curl)![1]) as object;

    const t = await createTestApp(env);
    onTestFinished(() => t.close());
    const res = await request(t.http)
      [method](path)
      .set('x-api-key', key)
      .send(body);
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({
      userId: 'PAPER_TRADER_001',
      status: 'active',
    });
  });
});
