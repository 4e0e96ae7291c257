import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

/**
 * The packages a consumer's compiler loads through a package's public types: every bare import in
 * the .d.ts files reachable from `entries` (relative imports followed), as "package <- file".
 */
export function declarationImports(dist: string, entries: readonly string[]): string[] {
  const queue = entries.map((e) => join(dist, `${e}.d.ts`));
  const seen = new Set(queue);
  const found: string[] = [];
  const visit = (target: string) => {
    if (seen.has(target)) return;
    seen.add(target);
    queue.push(target);
  };
  for (let file = queue.shift(); file; file = queue.shift()) {
    const text = readFileSync(file, 'utf8');
    for (const [, spec] of text.matchAll(/(?:from\s*|import\(\s*|reference\s+types=)['"]([^'"]+)['"]/g)) {
      if (!spec.startsWith('.')) {
        found.push(`${spec} <- ${relative(dist, file)}`);
        continue;
      }
      const base = join(dirname(file), spec);
      const target = [base.replace(/\.js$/, '.d.ts'), join(base, 'index.d.ts')].find(existsSync);
      if (target) visit(target);
    }
    for (const [, path] of text.matchAll(/reference\s+path=['"]([^'"]+)['"]/g)) {
      visit(join(dirname(file), path));
    }
  }
  return found;
}
