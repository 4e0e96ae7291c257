import { isPoisonError } from './replay-quarantine.js';

const reply = (message: string) => Object.assign(new Error(message), { name: 'ReplyError' });

describe('isPoisonError', () => {
  it.each([
    'WRONGTYPE Operation against a key holding the wrong kind of value',
    'ERR invalid expire time in set',
    'ERR user_script:3: Script attempted to access nonexistent global variable',
  ])('%s: rejected for good', (m) => expect(isPoisonError(reply(m))).toBe(true));

  it.each([
    'OOM command not allowed when used memory > maxmemory',
    'BUSY Redis is busy running a script',
    'LOADING Redis is loading the dataset in memory',
    'READONLY You cannot write against a read only replica',
    "NOPERM this user has no permissions to run the 'evalsha' command",
    'ERR Error running script: OOM command not allowed',
  ])('%s: transient or an operator fix, retried', (m) => expect(isPoisonError(reply(m))).toBe(false));

  it('timeouts and connection errors are not reply errors', () => {
    expect(isPoisonError(new Error('Command timed out'))).toBe(false);
    expect(isPoisonError(new Error('Connection is closed.'))).toBe(false);
  });
});
