import { execFile } from 'node:child_process';
import { cpSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');

/**
 * `npm pack` of the package from a copy of its sources in `into`, so prepack's clean build of
 * dist/ happens there and never touches the repo's dist/ (which another test, or `npm run
 * start:prod` after `npm test`, relies on). Returns the tarball and the files it holds.
 */
export async function packPackage(into: string): Promise<{ tarball: string; files: string[] }> {
  const dir = join(into, 'package');
  for (const f of ['package.json', 'tsconfig.json', 'tsconfig.lib.json', 'README.md']) cpSync(join(ROOT, f), join(dir, f));
  for (const d of ['src', 'docs']) cpSync(join(ROOT, d), join(dir, d), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  // --json lists what went into the tarball.
  const packed = await run('npm', ['pack', '--json', '--pack-destination', into], { cwd: dir, maxBuffer: 16 * 1024 * 1024 });
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as [{ filename: string; files: { path: string }[] }];
  return { tarball: join(into, info.filename), files: info.files.map((f) => f.path) };
}
