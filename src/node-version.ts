/** The oldest Node this app runs on: package.json `engines.node` (a test keeps the two equal). */
export const MIN_NODE = '22.12.0';

/** One line saying the running Node is too old and what to install, or null when it will do. */
export function unsupportedNode(
  version: string,
  min = MIN_NODE,
): string | null {
  const have = version.replace(/^v/, '').split('.').map(Number);
  const want = min.split('.').map(Number);
  for (let i = 0; i < want.length; i++) {
    if ((have[i] ?? 0) > want[i]) return null;
    if ((have[i] ?? 0) < want[i]) {
      return `Node ${version} is too old for this app: it needs Node >= ${min} (package.json engines); install Node 22.12 or newer (24 recommended) and start again.`;
    }
  }
  return null;
}
