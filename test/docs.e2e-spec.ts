import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { configSections } from '../src/config/sections.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { registeredRoutes } from './helpers/routes.js';

/** The README and the env example are what operators read: they must name what the app has. */
describe('the project docs tell the truth', () => {
  const readme = readFileSync('README.md', 'utf8');
  const envExample = readFileSync('production.env.example', 'utf8');
  const variables = [...new Set(Object.values(configSections).flatMap((s) => Object.keys(s.schema.shape)))];

  it('README and production.env.example name every configuration variable', () => {
    expect(variables.length).toBeGreaterThan(30);
    expect(variables.filter((v) => !readme.includes(`\`${v}\``))).toEqual([]);
    expect(variables.filter((v) => !new RegExp(`^#?\\s*${v}=`, 'm').test(envExample))).toEqual([]);
  });

  it('"Use it in your Nest app" is exactly the consumer fixture the package test installs', () => {
    for (const file of ['src/app.module.ts', 'src/main.ts']) {
      const code = readFileSync(`test/fixtures/consumer-app/${file}`, 'utf8');
      expect(readme).toContain('```ts\n' + code + '```');
    }
  });

  it('the app has at most 41 variables; the rest are module options', () => {
    // Issue 13's cap: SHAREKHAN_VERSION_ID made room for CONSOLE_ENABLED (any API key may use any version id: a module option).
    // Issue 21 added METRICS_TOKEN (a secret only an operator has); per-user order limits ride in TRADING_USERS.
    expect(variables.length).toBeLessThanOrEqual(41);
  });

  it('production.env.example shows each variable once, with the default the code really has', () => {
    const lines = [...envExample.matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=(.*)$/gm)].map(([, name, value]) => ({ name, value: value.trim() }));
    expect(lines.map((l) => l.name).filter((n) => !variables.includes(n))).toEqual([]);
    expect(lines.length).toBe(new Set(lines.map((l) => l.name)).size);
    const shape = (name: string) => Object.values(configSections).find((sec) => name in sec.schema.shape)!.schema.shape[name] as z.ZodType;
    const wrong = lines.flatMap(({ name, value }) => {
      const parsed = shape(name).safeParse(undefined);
      const def = parsed.success ? parsed.data : undefined;
      const shown = def === undefined ? '' : Array.isArray(def) ? def.join(',') : String(def as string | number | boolean);
      return shown === value ? [] : [`${name}: example ${JSON.stringify(value)}, code ${JSON.stringify(shown)}`];
    });
    expect(wrong).toEqual([]);
  });

  describe('routes', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp({});
    });
    afterAll(() => t.close());

    it('README lists every route the app serves', () => {
      const routes = registeredRoutes(t, 'express');
      expect(routes.length).toBeGreaterThan(15);
      const missing = routes.filter(({ method, path }) => !readme.includes(`\`${method.toUpperCase()} ${path}`));
      expect(missing).toEqual([]);
    });
  });
});
