import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';

/**
 * The modules are a library: they depend on each other one way (orchestrator -> sharekhan ->
 * auth -> cache) through each folder's index.ts, and never on the app shell (env parsing,
 * observability, health, the console, main). The shell uses the modules through their index.ts too.
 */
const SRC = resolve(import.meta.dirname);
const MODULES = ['cache', 'auth', 'sharekhan', 'orchestrator'] as const;
const SHELL = ['config', 'observability', 'health', 'console', 'main.ts', 'run.ts', 'node-version.ts', 'bootstrap.ts', 'app.module.ts', 'app.setup.ts'];
/** Of the shell, what each part may import besides the modules (through index.ts) and common/. */
const SHELL_ALLOWED: Record<string, string[]> = {
  config: [],
  observability: ['config'],
  health: ['config'],
  console: [],
};
/** Inside sharekhan/: who may import whom (a folder its own files, and all of them the options). */
const SHAREKHAN_ALLOWED: Record<string, string[]> = {
  http: ['login', 'tokens', 'broker'],
  login: ['tokens', 'broker'],
  tokens: [],
  broker: [],
};
const SHAREKHAN_SHARED = ['sharekhan/sharekhan.options.js', 'sharekhan/sharekhan.module-definition.js'];
/** Files that answer HTTP (and so may throw its exceptions): besides these names, anything under an http/ folder. */
const EDGE_FILE = /\.(controller|guard|filter|pipe|middleware|exception)\.ts$/;
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

/** Everything under src/ that is not a module: the top-level files and the shell folders. */
function shellFiles(): string[] {
  return SHELL.flatMap((s) => (s.endsWith('.ts') ? [join(SRC, s)] : filesOf(join(SRC, s))));
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

  it('the app shell uses the modules only through their index.ts; config imports no other part of the shell, observability and health only config', () => {
    const problems: string[] = [];
    for (const file of shellFiles()) {
      const from = relative(SRC, file);
      const part = from.includes('/') ? from.split('/')[0] : null;
      for (const target of importsOf(file)) {
        const top = target.split('/')[0];
        const where = `${from} -> ${target}`;
        if (top === part || top === 'common') continue;
        if ((MODULES as readonly string[]).includes(top)) {
          if (target !== `${top}/index.js`) problems.push(`${where} (not through ${top}/index.ts)`);
        } else if (part && part in SHELL_ALLOWED && !SHELL_ALLOWED[part].includes(top)) {
          problems.push(`${where} (not allowed: ${part} -> ${top})`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('inside sharekhan/: http -> login -> tokens, http and login -> broker, never back up, never through the module or index.ts', () => {
    const problems: string[] = [];
    for (const sub of Object.keys(SHAREKHAN_ALLOWED)) {
      for (const file of filesOf(join(SRC, 'sharekhan', sub))) {
        for (const target of importsOf(file)) {
          const [top, second] = target.split('/');
          if (top !== 'sharekhan' || second === sub || SHAREKHAN_SHARED.includes(target)) continue;
          if (!SHAREKHAN_ALLOWED[sub].includes(second)) problems.push(`${relative(SRC, file)} -> ${target} (not allowed: ${sub} -> ${second})`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('no service throws an HTTP exception: only http/ folders, controllers, guards, filters, pipes and middleware import one', () => {
    const all = [...MODULES.flatMap((mod) => filesOf(join(SRC, mod))), ...filesOf(join(SRC, 'common')), ...shellFiles()];
    const importing = all.filter((file) => {
      const text = readFileSync(file, 'utf8');
      const fromNest = [...text.matchAll(/import\s*\{([^}]*)\}\s*from\s*'@nestjs\/(?:common|throttler)'/g)].some((m) => /\b\w*Exception\b/.test(m[1]));
      return fromNest || /from\s*'[^']*\.exception\.js'/.test(text);
    });
    const services = importing.map((f) => relative(SRC, f)).filter((f) => !f.split('/').includes('http') && !EDGE_FILE.test(f));
    expect(importing.length).toBeGreaterThan(3);
    expect(services).toEqual([]);
  });
});
