import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';

/**
 * The modules are a library: they depend on each other one way (orchestrator -> sharekhan ->
 * auth -> cache) through each folder's index.ts, and never on the app shell (env parsing,
 * observability, health, main).
 */
const SRC = resolve(import.meta.dirname);
const MODULES = ['cache', 'auth', 'sharekhan', 'orchestrator'] as const;
const SHELL = ['config', 'observability', 'health', 'main.ts', 'run.ts', 'node-version.ts', 'bootstrap.ts', 'app.module.ts', 'app.setup.ts'];
/** Who may import whom (besides common/). */
const ALLOWED: Record<string, string[]> = {
  cache: [],
  auth: ['cache'],
  sharekhan: ['cache', 'auth'],
  orchestrator: ['cache', 'auth', 'sharekhan'],
};

function filesOf(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesOf(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts') ? [join(dir, e.name)] : [],
  );
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)[^'"]*?from\s+'(\.[^']+)'/gm)].map((m) => relative(SRC, resolve(dirname(file), m[1])));
}

describe('module boundaries', () => {
  it.each(MODULES)('%s imports other modules only through their index.ts, in the one allowed direction, and nothing of the app shell', (mod) => {
    const problems: string[] = [];
    for (const file of filesOf(join(SRC, mod))) {
      for (const target of importsOf(file)) {
        const top = target.split('/')[0];
        if (top === mod || top === 'common') continue;
        const where = `${relative(SRC, file)} -> ${target}`;
        if (SHELL.some((s) => top === s || target === s.replace(/\.ts$/, '.js'))) problems.push(`${where} (app shell)`);
        else if (!ALLOWED[mod].includes(top)) problems.push(`${where} (not allowed: ${mod} -> ${top})`);
        else if (target !== `${top}/index.js`) problems.push(`${where} (not through ${top}/index.ts)`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('no module reads process.env', () => {
    const readers = MODULES.flatMap((mod) => filesOf(join(SRC, mod))).filter((f) => readFileSync(f, 'utf8').includes('process.env'));
    expect(readers.map((f) => relative(SRC, f))).toEqual([]);
  });

  it('common/ depends on no module but the cache, through its index.ts', () => {
    const bad = filesOf(join(SRC, 'common')).flatMap((f) =>
      importsOf(f)
        .filter((t) => !t.startsWith('common/') && t !== 'cache/index.js')
        .map((t) => `${relative(SRC, f)} -> ${t}`),
    );
    expect(bad).toEqual([]);
  });
});
