import { VERSION_LENGTH } from '../../core/hlc.js';

/**
 * Compare-and-set on the record's version: write only when the incoming version is newer than the
 * one stored, so a replayed or late-arriving older write can never overwrite a newer one.
 * Returns 1 when written, otherwise the stored (newer or equal) version.
 * ARGV: version, encoded record, PXAT ms (0 = no expiry), and optionally the L1 invalidation
 * channel: a successful write publishes `<version><key>` there in the same atomic step, so no
 * instance can change a key without telling the near-caches (values never travel on the channel).
 */
/**
 * Stores a record in KEYS[1] with its absolute expiry and tells L1 (ARGV[4], '' or absent for
 * none); the arguments name the Lua expressions holding the version, record and PXAT.
 */
export function writeAndPublish(version: string, record: string, pxat: string): string {
  return `
if ${pxat} ~= '0' then
  redis.call('SET', KEYS[1], ${record}, 'PXAT', ${pxat})
else
  redis.call('SET', KEYS[1], ${record})
end
if ARGV[4] and ARGV[4] ~= '' then
  redis.call('PUBLISH', ARGV[4], ${version} .. KEYS[1])
end`;
}

/** The common end of the single-key scripts: write ARGV[1..3] and report it written. */
export const WRITE_AND_PUBLISH = `${writeAndPublish('ARGV[1]', 'ARGV[2]', 'ARGV[3]')}
return 1
`;

export const CAS_SET_LUA = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local cv = string.sub(cur, 1, ${VERSION_LENGTH})
  if cv >= ARGV[1] then return cv end
end
${WRITE_AND_PUBLISH}`;

/**
 * Set-if-absent with the same record format: writes only when the key holds no live value (absent,
 * or a tombstone older than the incoming version). Returns 1 when written, otherwise the stored
 * record, so the caller learns who holds the key without a second round trip.
 * ARGV: version, encoded record, PXAT ms (0 = no expiry), optional L1 channel.
 */
export const ADD_LUA = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local bar = string.find(cur, '|', ${VERSION_LENGTH} + 2, true)
  local kind = bar and string.sub(cur, bar + 1, bar + 1) or 'v'
  if kind ~= 'd' then return cur end
  if string.sub(cur, 1, ${VERSION_LENGTH}) >= ARGV[1] then return cur end
end
${WRITE_AND_PUBLISH}`;

/**
 * CAS_SET_LUA for many keys in one call: what a burst of concurrent writes costs as one command
 * instead of one script call each. Not for Cluster (keys of several slots). At most a few dozen
 * keys per call (the batcher sends 32): `unpack` puts every key on the Lua stack. ARGV[1] is the L1
 * channel ('' for none), then version, record, PXAT for each key. Returns one reply per key,
 * each as CAS_SET_LUA would.
 */
export const CAS_SET_MANY_LUA = `
local ch = ARGV[1]
local out = {}
-- One MGET instead of a GET per key: each redis.call has a fixed cost (5-10% of the script's
-- server time per key, measured with 32 keys). A key can occur twice in one batch (a live write
-- and a replayed one): a later occurrence compares against what this call already wrote.
local curs = redis.call('MGET', unpack(KEYS))
local written = {}
for i = 1, #KEYS do
  local b = (i - 1) * 3 + 1
  local ver, rec, px = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]
  local res = 1
  local cur = written[KEYS[i]] or curs[i]
  if cur then
    local cv = string.sub(cur, 1, ${VERSION_LENGTH})
    if cv >= ver then res = cv end
  end
  if res == 1 then
    if px ~= '0' then
      redis.call('SET', KEYS[i], rec, 'PXAT', px)
    else
      redis.call('SET', KEYS[i], rec)
    end
    if ch ~= '' then redis.call('PUBLISH', ch, ver .. KEYS[i]) end
    written[KEYS[i]] = rec
  end
  out[i] = res
end
return out
`;

/**
 * Version-conditional write for `update`: writes only when the stored version is exactly the one
 * the caller read ('' = absent) and older than the new one. Returns 1 when written, otherwise the
 * stored version ('' when absent). ARGV: version, record, PXAT, L1 channel ('' for none), expected.
 */
export const CAS_IF_VERSION_LUA = `
local cur = redis.call('GET', KEYS[1])
local cv = ''
if cur then cv = string.sub(cur, 1, ${VERSION_LENGTH}) end
if cv ~= ARGV[5] or (cv ~= '' and cv >= ARGV[1]) then return cv end
${WRITE_AND_PUBLISH}`;
