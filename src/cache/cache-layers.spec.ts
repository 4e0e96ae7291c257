import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * The cache is built in layers (docs/cache.md, "Where things are"): core is pure; local (what this
 * instance holds) and redis (the only room that speaks Redis) stand on core and never on each other;
 * engine wires them; api stands on the engine; the facade files at the top may use anything.
 */
const CACHE = resolve(import.meta.dirname);
const RANK: Record<string, number> = { core: 0, local: 1, redis: 1, engine: 2, api: 3, '.': 4 };

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

/** Every source file of the package (specs too) outside src/cache/redis/, but this one. */
function outsideRedis(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return path === join(CACHE, 'redis') ? [] : outsideRedis(path);
    return e.name.endsWith('.ts') && path !== import.meta.filename ? [path] : [];
  });
}

/** What sends a Redis command or reaches the driver: only src/cache/redis/ may (the facade only builds the gateway). */
const RAW_REDIS: [string, RegExp][] = [
  ['imports ioredis', /(from\s+|import\(\s*|require\(\s*)['"]ioredis['"]/],
  ["reaches a gateway's client", /\b(gateway|exec|executor)\??\.client\b/],
  ['runs a command on a key', /\.runFor\(/],
  ['runs a command on the client', /\.run\(\s*(?:'[^']*'\s*,\s*)?(?:\(\s*[\w$]*\s*(?::[^)]*)?\)|[\w$]+)\s*=>/],
  ['defines or evaluates a script', /\.(defineCommand|evalsha|eval)\(/],
  ['names the executor', /\b(CommandExecutor|CasClient)\b/],
];
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

  /** The test seam takes an executor (the facade's constructor) and the engine wraps it in the door. */
  const MAY_NAME_EXECUTOR = [join(CACHE, 'cache.service.ts'), join(CACHE, 'engine/engine.ts')];

  it('Redis is spoken only in redis/: no file elsewhere imports ioredis, reaches a client or sends a command', () => {
    const found = outsideRedis(resolve(CACHE, '..')).flatMap((file) => {
      const text = readFileSync(file, 'utf8');
      const rel = relative(resolve(CACHE, '../..'), file);
      return RAW_REDIS.filter(([what, re]) => re.test(text) && !(what === 'names the executor' && MAY_NAME_EXECUTOR.includes(file))).map(([what]) => `${rel} ${what}`);
    });
    expect(found).toEqual([]);
  });

  it('the check sees a raw command where one is written', () => {
    const samples = [
      "import { Redis } from 'ioredis';",
      'this.gateway.client.defineCommand(x);',
      "this.gateway.runFor(k, (c) => c.zrange(k, '0', '-1'));",
      'gateway.run((c) => c.time());',
      "gateway.run('time', (c: CasClient) => c.time());",
      'c.eval(LUA, 1, key);',
      'c.evalsha(sha, 1, key);',
    ];
    expect(samples.filter((t) => !RAW_REDIS.some(([, re]) => re.test(t)))).toEqual([]);
  });
});
