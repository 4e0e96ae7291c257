/**
 * Append to a per-key log held in Redis as a sorted set whose members all have score 0, so Redis
 * orders them by their bytes: each member is `<HLC version>|<json>` and versions are fixed-width,
 * so the set is in the fleet's version order and a member written twice (a replay, a re-seed, a
 * retried timeout) is one member. Appending is a set union: two writers never overwrite each other.
 * Bounds are applied in the same atomic step: members older than the age cut-off go first, then
 * the oldest beyond the count.
 * ARGV: max members, age cut-off (a version prefix: members below it are removed; '' for none),
 * key TTL in ms ('0' for none, renewed by every append), then the members to add.
 * Returns the number of members the log holds afterwards.
 */
export const LOG_APPEND_LUA = `
local args = {}
for i = 4, #ARGV do
  args[#args + 1] = 0
  args[#args + 1] = ARGV[i]
end
if #args > 0 then redis.call('ZADD', KEYS[1], unpack(args)) end
if ARGV[2] ~= '' then redis.call('ZREMRANGEBYLEX', KEYS[1], '-', '(' .. ARGV[2]) end
local n = redis.call('ZCARD', KEYS[1])
local max = tonumber(ARGV[1])
if n > max then
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - max - 1)
  n = max
end
if ARGV[3] ~= '0' and n > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return n
`;
