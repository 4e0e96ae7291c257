import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * The cache is built in layers (docs/cache.md, "Where things are"): core is pure; local (what this
 * instance holds) and redis (the only room that speaks Redis) stand on core and never on each other;
 * engine wires them; api stands on the engine; the facade files at the top may use anything.
 */
const CACHE = resolve(import.meta.dirname);
const RANK: Record<string, number> = { core: 0, local: 1, redis: 1, engine: 2, api: 3, '.': 4, testing: 4 };

function filesOf(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesOf(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts') ? [join(dir, e.name)] : [],
  );
}

/** Every relative import, type-only ones included: a type that runs back up the layers is still a dependency on it. */
function importsOf(file: string): { target: string; typeOnly: boolean }[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^\s*(import|export)(\s+type)?[^'"]*?from\s+'(\.[^']+)'/gm)].map((m) => ({
    target: relative(CACHE, resolve(dirname(file), m[3])),
    typeOnly: Boolean(m[2]),
  }));
}

const layerOf = (path: string): string => (path.includes('/') ? path.split('/')[0] : '.');
const edges = filesOf(CACHE).flatMap((file) => importsOf(file).map(({ target, typeOnly }) => ({ from: relative(CACHE, file), to: target, typeOnly })));

describe('cache layers', () => {
  it('every file sits in a known layer', () => {
    expect(edges.map((e) => layerOf(e.from)).filter((l) => !(l in RANK))).toEqual([]);
  });

  it('no import runs back up the layers, and local/ and redis/ never import each other', () => {
    const up = edges.filter((e) => {
      const [a, b] = [layerOf(e.from), layerOf(e.to)];
      return a !== b && RANK[b] >= RANK[a];
    });
    expect(up.map((e) => `${e.from} -> ${e.to}`)).toEqual([]);
  });

  it('no two folders import each other at runtime', () => {
    const runtime = new Set(edges.filter((e) => !e.typeOnly).map((e) => `${layerOf(e.from)}>${layerOf(e.to)}`));
    const both = [...runtime].filter((p) => {
      const [a, b] = p.split('>');
      return a !== b && runtime.has(`${b}>${a}`);
    });
    expect(both).toEqual([]);
  });
});
