import { execFile } from 'node:child_process';
import {
  cpSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');

/** The app as `npm run build` compiles it (tsconfig.build.json, console assets), in a temp dir. */
export interface AppBuild {
  root: string;
  /** The entry each replica process runs (see ENTRY). */
  entry: string;
  remove(): void;
}

/**
 * main.ts, plus the one module option the scenarios shorten: `unconfirmedTokenUseMs` (default 30 s,
 * no variable), so the revoke bound is checked in seconds, as the fleet test does.
 */
const ENTRY = `import { loadConfig } from './dist/config/load-config.js';
import { startApp } from './dist/bootstrap.js';
const config = loadConfig(process.env);
if (process.env.FORGET_UNCONFIRMED_TOKEN_USE_MS) config.sharekhan.unconfirmedTokenUseMs = Number(process.env.FORGET_UNCONFIRMED_TOKEN_USE_MS);
startApp(config).catch((err) => { process.stderr.write(\`Start-up failed: \${err.message}\\n\`); process.exit(1); });
`;

/** Compiles src/ once into a temp dir (never ./dist, which other tests and a developer use). */
export async function buildApp(): Promise<AppBuild> {
  const root = mkdtempSync(join(tmpdir(), 'forget-build-'));
  try {
    await run(
      join(ROOT, 'node_modules/.bin/tsc'),
      [
        '-p',
        join(ROOT, 'tsconfig.build.json'),
        '--outDir',
        join(root, 'dist'),
        '--incremental',
        'false',
        '--sourceMap',
        'false',
        '--declaration',
        'false',
      ],
      { cwd: ROOT },
    );
    cpSync(
      join(ROOT, 'src/console/assets'),
      join(root, 'dist/console/assets'),
      { recursive: true },
    );
    // ESM needs "type": "module"; packages resolve from the project's node_modules.
    writeFileSync(
      join(root, 'package.json'),
      JSON.stringify({ type: 'module' }),
    );
    symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'), 'dir');
    writeFileSync(join(root, 'replica.js'), ENTRY);
  } catch (error) {
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
  return {
    root,
    entry: join(root, 'replica.js'),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}
