import { VERSION_LENGTH } from '../../core/hlc.js';

/**
 * Withdraws a claim whose outcome was unknown (the set-if-absent timed out, so the caller was told
 * `unknown` and acted without it): if the key still holds exactly that claim's version, it becomes
 * a tombstone of the same version, so any later write or claim still orders after it.
 * KEYS: key. ARGV: claim version, tombstone record, tombstone PXAT, L1 channel ('' for none).
 * Returns 1 when withdrawn, 0 when the key holds something else (the claim never landed, or was replaced).
 */
export const RELEASE_CLAIM_LUA = `
local cur = redis.call('GET', KEYS[1])
if (not cur) or string.sub(cur, 1, ${VERSION_LENGTH}) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3])
if ARGV[4] ~= '' then redis.call('PUBLISH', ARGV[4], ARGV[1] .. KEYS[1]) end
return 1
`;
