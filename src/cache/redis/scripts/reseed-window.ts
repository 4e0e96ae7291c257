import { WRITE_AND_PUBLISH, writeAndPublish } from './cas-script.js';
import { VERSION_LENGTH } from '../../core/hlc.js';

/**
 * The deployment's marker key holds `<epoch>` or `<epoch>|<window end, ms>`. The epoch
 * changes when Redis comes back empty; the window is how long, after that, claims of keys Redis
 * does not hold are refused: long enough for every live replica to reconnect and re-seed what it
 * holds (see docs/cache.md, "Claims after Redis restarts empty").
 */
export function epochOf(marker: string): string {
  const bar = marker.indexOf('|');
  return bar < 0 ? marker : marker.slice(0, bar);
}

/** Whether the marker carries a re-seed window that is still open at `now`. */
export function windowOpenIn(marker: string, now: number): boolean {
  const bar = marker.indexOf('|');
  return bar >= 0 && now < Number(marker.slice(bar + 1));
}

/** OPEN_WINDOW_LUA up to its `return v` (fleet-scripts.ts does more after it): sets `v`, `epoch`, `now`. */
export const OPEN_WINDOW_STEP = `
local now = tonumber(ARGV[3])
local m = redis.call('GET', KEYS[1])
local epoch, ends = ARGV[1], 0
if m then
  local bar = string.find(m, '|', 1, true)
  if bar then
    epoch = string.sub(m, 1, bar - 1)
    ends = tonumber(string.sub(m, bar + 1)) or 0
  else
    epoch = m
  end
end
local want = now + tonumber(ARGV[2])
if want > ends then ends = want end
local v = epoch .. '|' .. ends
redis.call('SET', KEYS[1], v)
`;

/**
 * Opens (marker missing: a new epoch) or extends (to at least now + window) the re-seed window,
 * keeping the epoch. Times are the fleet's clock (each instance's offset to Redis TIME applied:
 * no TIME call here, so the ACL needs nothing more for scripts).
 * KEYS: marker. ARGV: new epoch id, window ms, now ms. Returns the marker value.
 */
export const OPEN_WINDOW_LUA = `${OPEN_WINDOW_STEP}return v
`;

/**
 * Set-if-absent (ADD_LUA's record format and replies) that never grants a claim Redis cannot
 * vouch for:
 * - a live copy this instance wrote itself (ARGV[5..7]: version, record, PXAT; '' for none) is put back
 *   first if Redis lacks it or holds an older version, so a retry reaching this replica is
 *   answered with its own claim;
 * - with KEYS[2] (the marker; omitted on Cluster), a key Redis does not hold live is not granted
 *   (reply 0) while the marker is missing or its re-seed window is open.
 * KEYS: key[, marker]. ARGV: version, record, PXAT, L1 channel, seed version, seed record, seed PXAT,
 * now (ms, the fleet's clock).
 * Returns 1 when written, 0 when refused while the window is open, 2 when refused because the
 * marker is missing (Redis lost it while connected: the caller starts a recovery pass), otherwise
 * the stored record.
 */
export const CLAIM_LUA = `
local cur = redis.call('GET', KEYS[1])
if ARGV[5] ~= '' and ((not cur) or string.sub(cur, 1, ${VERSION_LENGTH}) < ARGV[5]) then
${writeAndPublish('ARGV[5]', 'ARGV[6]', 'ARGV[7]')}
  cur = ARGV[6]
end
if cur then
  local bar = string.find(cur, '|', ${VERSION_LENGTH} + 2, true)
  local kind = bar and string.sub(cur, bar + 1, bar + 1) or 'v'
  if kind ~= 'd' then return cur end
end
if #KEYS > 1 then
  local m = redis.call('GET', KEYS[2])
  if not m then return 2 end
  local mbar = string.find(m, '|', 1, true)
  if mbar and tonumber(ARGV[8]) < (tonumber(string.sub(m, mbar + 1)) or 0) then return 0 end
end
if cur and string.sub(cur, 1, ${VERSION_LENGTH}) >= ARGV[1] then return cur end
${WRITE_AND_PUBLISH}`;
