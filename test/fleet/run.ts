/**
 * `npm run test:fleet -- --runs N [--seed S] [--duration MS] [--out DIR] [--policy refuse|proceed]`: N seeded fleet runs by
 * hand (seeds S, S+1, ...; S random when not given), each printing its figures and violations. It runs the same vitest
 * entry as CI (Nest needs vitest's decorator metadata), with the options passed as FLEET_* vars.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '1' },
    seed: { type: 'string' },
    duration: { type: 'string', default: '20000' },
    out: { type: 'string' },
    /** ORCHESTRATOR_IDEMPOTENCY_WHEN_UNAVAILABLE for every replica (default: the app's default). */
    policy: { type: 'string' },
  },
});

for (const [name, value] of Object.entries(values)) {
  if (name !== 'out' && name !== 'policy' && value !== undefined && !/^\d+$/.test(value)) {
    process.stderr.write(`--${name} wants a whole number, got "${value}"\n`);
    process.exit(2);
  }
}

const env = {
  ...process.env,
  FLEET_RUNS: values.runs,
  FLEET_DURATION_MS: values.duration,
  // Without --seed a fresh one: CI runs the fixed seeds, by hand the fleet explores.
  FLEET_SEED: values.seed ?? String(Math.floor(Math.random() * 2 ** 31)),
  ...(values.out !== undefined ? { FLEET_OUT: values.out } : {}),
  ...(values.policy !== undefined ? { FLEET_POLICY: values.policy } : {}),
};
const vitest = join(process.cwd(), 'node_modules', '.bin', 'vitest');
const r = spawnSync(vitest, ['run', 'test/fleet/fleet.e2e-spec.ts', '--silent=false'], { stdio: 'inherit', env });
process.exit(r.status ?? 1);
