import { ModuleOptionsError } from '../common/module-options.js';
import { resolveOrchestratorOptions } from './orchestrator.options.js';

function problem(input: unknown): string {
  try {
    resolveOrchestratorOptions(input as never);
  } catch (err) {
    expect(err).toBeInstanceOf(ModuleOptionsError);
    return (err as Error).message;
  }
  throw new Error('expected a ModuleOptionsError');
}

describe('OrchestratorModule options', () => {
  it('defaults: no users, the check at 08:45 and 09:10 IST on weekdays, every default filled in', () => {
    const s = resolveOrchestratorOptions({});
    expect(s).toMatchObject({
      users: [],
      premarketDays: '1-5',
      fanoutConcurrency: 64,
      brokerOrdersPerSecond: 10,
      brokerMaxWaitMs: 5_000,
      brokerTransitMarginMs: 50,
      idempotencyTtlMs: 2 * 86_400_000,
      idempotencyWhenUnavailable: 'refuse',
      orderTimeoutMs: 8_000,
      paperRequiresToken: true,
      tokenSubmitPath: 'PUT /sharekhan/users/{userId}/token',
    });
    expect(s.premarketTimes.map((t) => t.label)).toEqual(['08:45', '09:10']);
  });

  it('static tokens of users that are not configured (by exact id) are reported by id', () => {
    const s = resolveOrchestratorOptions(
      { users: [{ userId: 'MASTER_USER_001', mode: 'live', customerId: 'C100', loginId: 'L100' }] },
      ['MASTER_USER_001', 'MASTER_USER_002'],
    );
    expect(s.strayEnvTokenVars).toEqual(['MASTER_USER_002']);
  });

  it('one error naming each bad option', () => {
    const msg = problem({
      users: [{ userId: 'LIVE_1', mode: 'live' }, { userId: 'x', mode: 'demo' }],
      premarketCheck: { timesIst: ['8:45'] },
      fanoutConcurrency: 0,
    });
    expect(msg).toMatch(/^Invalid OrchestratorModule options: /);
    expect(msg).toContain('users.0.customerId (wants 1-64 letters, digits, _ or - (required for live users))');
    expect(msg).toContain('users.1.userId');
    expect(msg).toContain('users.1.mode (wants paper or live)');
    expect(msg).toContain('premarketCheck.timesIst.0 (wants HH:MM times in IST');
    expect(msg).toContain('fanoutConcurrency');
    const twice = problem({ users: [{ userId: 'P_1', mode: 'paper' }, { userId: 'P_1', mode: 'paper' }] });
    expect(twice).toContain('users.1.userId (wants a user id not used before (P_1))');
  });
});
