import { unsupportedNode } from './node-version.js';

// Checked before anything else loads: on an older Node, Nest's own imports fail far less clearly.
const tooOld = unsupportedNode(process.versions.node);
if (tooOld) {
  process.stderr.write(`${tooOld}\n`);
  process.exit(1);
}
await import('./run.js');
