import { execFile } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');

export interface AppBuild {
  /** The folder holding package.json, node_modules (a link to the repo's) and dist/. */
  dir: string;
  /** dist/main.js of this build, as `npm run start:prod` starts it. */
  main: string;
  remove(): void;
}

/**
 * The app compiled as `npm run build` compiles it, but into a temp folder: a test never touches
 * the repo's dist/ (which `npm run start:prod` runs).
 */
export async function buildAppToTemp(): Promise<AppBuild> {
  const dir = mkdtempSync(join(tmpdir(), 'app-build-'));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    // ESM needs the package's "type"; packages resolve through the link.
    copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    const dist = join(dir, 'dist');
    await run(
      join(ROOT, 'node_modules/.bin/tsc'),
      ['-p', join(ROOT, 'tsconfig.build.json'), '--outDir', dist],
      { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 },
    );
    // nest-cli.json's assets: the console's static files.
    cpSync(join(ROOT, 'src/console/assets'), join(dist, 'console/assets'), {
      recursive: true,
    });
    return { dir, main: join(dist, 'main.js'), remove };
  } catch (err) {
    remove();
    throw err;
  }
}
