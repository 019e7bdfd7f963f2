/**
 * The Lua scripts of the Redis backplane. Each runs atomically on the server, so the position,
 * the history entry and its index are written together and every hub sees one order.
 *
 * Keys: KEYS[1] the stream (the shared history, one entry per broadcast, stream id `<pos>-0`),
 * KEYS[2] the index hash (`i:<event id>` and `u:<uid>` to position), KEYS[3] the position counter,
 * KEYS[4] the epoch (a random token set once per data set: a Redis that lost its data gets a new one).
 */

/** Both scripts start here: the data set's epoch, created from the candidate in ARGV[1] when missing. */
const EPOCH = `
local epoch = redis.call('GET', KEYS[4])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[4], epoch)
end
`;

/**
 * Appends one broadcast, unless the data set has it already. ARGV: epoch candidate, max length, then
 * the entry's fields, starting `i <id> u <uid>`. Returns `{ epoch, pos }`.
 *
 * Every publish is idempotent: a send that timed out may have reached Redis, and its resend, or the
 * first attempt itself when Redis runs it late from a connection the backplane already gave up on,
 * must not append it twice. The uid (or, when the hub made the id, the id: they are equal then) is
 * looked up in the index first, which costs one HGET.
 */
export const PUBLISH = `${EPOCH}local id, uid = ARGV[4], ARGV[6]
local ukey = 'i:' .. id
if uid ~= id then ukey = 'u:' .. uid end
local known = redis.call('HGET', KEYS[2], ukey)
if known then return { epoch, tonumber(known) } end
local pos = redis.call('INCR', KEYS[3])
redis.call('XADD', KEYS[1], pos .. '-0', unpack(ARGV, 3))
redis.call('HSET', KEYS[2], 'i:' .. id, pos)
if uid ~= id then redis.call('HSET', KEYS[2], ukey, pos) end
local over = redis.call('XLEN', KEYS[1]) - tonumber(ARGV[2])
if over > 0 then
  -- Trim the oldest entries and their index fields (unless a later entry reused the id).
  local old = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', over)
  for _, e in ipairs(old) do
    local opos = string.match(e[1], '^(%d+)')
    local f = e[2]
    if redis.call('HGET', KEYS[2], 'i:' .. f[2]) == opos then redis.call('HDEL', KEYS[2], 'i:' .. f[2]) end
    if f[4] ~= f[2] then redis.call('HDEL', KEYS[2], 'u:' .. f[4]) end
  end
  redis.call('XTRIM', KEYS[1], 'MAXLEN', tonumber(ARGV[2]))
end
return { epoch, pos }
`;

/**
 * Reads where the log stands, creating the epoch when the data set has none. ARGV: epoch candidate.
 * Returns `{ epoch, head position, oldest kept position (0 when empty) }`.
 */
export const STATE = `${EPOCH}local head = tonumber(redis.call('GET', KEYS[3]) or '0')
local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
local oldest = 0
if first[1] then oldest = tonumber(string.match(first[1][1], '^(%d+)')) end
return { epoch, head, oldest }
`;
