import { readFileSync } from 'node:fs';
import { configSections } from '../src/config/sections.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { registeredRoutes } from './helpers/routes.js';

/** The README and the env example are what operators read: they must name what the app has. */
describe('the project docs tell the truth', () => {
  const readme = readFileSync('README.md', 'utf8');
  const envExample = readFileSync('production.env.example', 'utf8');
  const variables = [...new Set(Object.values(configSections).flatMap((s) => Object.keys(s.schema.shape)))];

  it('README and production.env.example name every configuration variable', () => {
    expect(variables.length).toBeGreaterThan(50);
    expect(variables.filter((v) => !readme.includes(`\`${v}\``))).toEqual([]);
    expect(variables.filter((v) => !new RegExp(`^#?\\s*${v}=`, 'm').test(envExample))).toEqual([]);
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
