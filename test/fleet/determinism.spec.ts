import { Generator } from './generator.js';
import { planFault } from './nemesis.js';
import { Prng } from './prng.js';

/** A failing run is reproduced by its seed: the same seed must give the same plans and faults. */

const USERS = ['U1', 'U2', 'U3', 'U4'];

function plans(seed: number, n: number) {
  const gen = new Generator(new Prng(seed).fork(1), USERS, 3, 'c0');
  return Array.from({ length: n }, () => [gen.next(), gen.thinkMs()]);
}

function faults(seed: number, n: number) {
  const rng = new Prng(seed).fork(0x6e656d);
  return Array.from({ length: n }, () => planFault(rng, 3));
}

describe('fleet seeds', () => {
  it('the same seed gives the same operations and the same fault schedule', () => {
    expect(plans(42, 200)).toEqual(plans(42, 200));
    expect(faults(42, 50)).toEqual(faults(42, 50));
  });

  it('another seed gives another run', () => {
    expect(plans(43, 200)).not.toEqual(plans(42, 200));
    expect(faults(43, 50)).not.toEqual(faults(42, 50));
  });

  it('draws every operation kind and every fault kind', () => {
    const kinds = new Set(plans(7, 500).map(([p]) => (p as { kind: string }).kind));
    expect([...kinds].sort()).toEqual(['audit.read', 'order', 'orders.read', 'signal', 'token.read', 'token.revoke', 'token.submit']);
    const faultKinds = new Set(faults(7, 300).map((f) => f.kind));
    expect(faultKinds.size).toBe(11);
  });
});
