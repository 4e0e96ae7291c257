import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface ConsoleAsset {
  body: Buffer;
  contentType: string;
}

/** The page's three files; the only things the console's Content-Security-Policy lets it load. */
export const CONSOLE_FILES = {
  'index.html': 'text/html; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
} as const;
export type ConsoleFile = keyof typeof CONSOLE_FILES;

/**
 * Next to this module file both in src/ (tsx, vitest) and in dist/ (nest-cli.json copies
 * console/assets), so one relative URL finds them either way.
 */
export const ASSETS_DIR = fileURLToPath(new URL('./assets/', import.meta.url));

/** Read once at start-up: a missing file fails the boot, not the first operator's request. */
export function loadConsoleAssets(dir = ASSETS_DIR): Map<ConsoleFile, ConsoleAsset> {
  const assets = new Map<ConsoleFile, ConsoleAsset>();
  for (const [name, contentType] of Object.entries(CONSOLE_FILES) as [ConsoleFile, string][]) {
    assets.set(name, { body: readFileSync(`${dir}${name}`), contentType });
  }
  return assets;
}
