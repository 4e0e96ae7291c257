import { ConfigError, loadConfig } from './load-config.js';

const load = (env: Record<string, string>) => loadConfig({ NODE_ENV: 'test', ...env }).orchestrator;

function problemsOf(env: Record<string, string>): string {
  try {
    loadConfig({ NODE_ENV: 'test', ...env });
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('orchestrator config section', () => {
  it('reads TRADING_USERS as userId:mode:customerId:loginId', () => {
    const s = load({ TRADING_USERS: 'PAPER_TRADER_001:paper::, MASTER_USER_001:live:C100:LOGIN100' });
    expect(s.users).toEqual([
      { userId: 'PAPER_TRADER_001', mode: 'paper', customerId: '', loginId: '' },
      { userId: 'MASTER_USER_001', mode: 'live', customerId: 'C100', loginId: 'LOGIN100' },
    ]);
  });

  it('has no users and the default check times when unset', () => {
    const s = load({});
    expect(s.users).toEqual([]);
    expect(s.premarketCheck?.timesIst).toEqual(['08:45', '09:10']);
  });

  it('names each bad entry and what it wants, in the words of the module options', () => {
    const msg = problemsOf({ TRADING_USERS: 'master_user:live:C1:L1,A:demo:C1:L1,B:live::,C:paper,D:paper::' });
    expect(msg).toContain('TRADING_USERS="master_user:live:C1:L1,A:demo');
    expect(msg).toContain('(wants entry 1 to have a user id of 1-64 characters A-Z, 0-9 or _)');
    expect(msg).toContain('(wants entry 2 (A) to have mode paper or live)');
    expect(msg).toContain('(wants entry 3 (B) to have a customer id of 1-64 letters, digits, _ or - (required for live users))');
    expect(msg).toContain('(wants entry 4 to be userId:mode:customerId:loginId, optionally followed by :maxQuantity:maxNotional (it has 2 field(s)))');
    expect(problemsOf({ TRADING_USERS: 'D:paper::,E:paper::,D:paper::' })).toContain('(wants entry 3 to have a user id not used before (D))');    // A repeated id is reported together with the list's other problems, not only once they are fixed.
    const both = problemsOf({ TRADING_USERS: 'D:paper::,E:demo::,D:paper::' });
    expect(both).toContain('(wants entry 2 (E) to have mode paper or live)');
    expect(both).toContain('(wants entry 3 to have a user id not used before (D))');
  });

  it('takes per-user order limits from fields 5 and 6 (empty keeps the default) and refuses bad ones', () => {
    const users = load({ TRADING_USERS: 'A:paper:::10:2500.5,B:live:C1:L1::100000,C:paper::' }).users;
    expect(users?.map((u) => u.limits)).toEqual([{ maxQuantity: 10, maxNotional: 2500.5 }, { maxNotional: 100000 }, undefined]);
    const msg = problemsOf({ TRADING_USERS: 'A:paper:::0:1,B:paper:::5:lots,C:paper:::5' });
    expect(msg).toContain('(wants entry 1 (A) to have a maxQuantity that is a whole number of at least 1)');
    expect(msg).toContain('(wants entry 2 (B) to have a maxNotional that is a number above 0)');
    expect(msg).toContain('(wants entry 3 to be userId:mode:customerId:loginId, optionally followed by :maxQuantity:maxNotional (it has 5 field(s)))');
  });

  it('rejects malformed check times', () => {
    expect(problemsOf({ ORCHESTRATOR_PREMARKET_CHECK_IST: '8:45,25:00' })).toContain('wants HH:MM times in IST');
    expect(load({ ORCHESTRATOR_PREMARKET_CHECK_IST: '' }).premarketCheck?.timesIst).toEqual([]);
  });

  it('never echoes a static token in a configuration error', () => {
    const msg = problemsOf({ TRADING_USERS: 'bad', SHAREKHAN_ACCESS_TOKEN_X: 'secret-token-for-x', API_RATE_LIMIT: 'x' });
    expect(msg).not.toContain('secret-token-for-x');
  });
});
