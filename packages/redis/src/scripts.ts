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
 * Appends one broadcast. ARGV: epoch candidate, max length, check duplicates ('1' on a resend),
 * then the entry's fields, starting `i <id> u <uid>`. Returns `{ epoch, pos }`.
 */
export const PUBLISH = `${EPOCH}local id, uid = ARGV[5], ARGV[7]
local ukey = 'i:' .. id
if uid ~= id then ukey = 'u:' .. uid end
if ARGV[3] == '1' then
  -- A resend after a lost reply: the first attempt may have landed.
  local known = redis.call('HGET', KEYS[2], ukey)
  if known then return { epoch, tonumber(known) } end
end
local pos = redis.call('INCR', KEYS[3])
redis.call('XADD', KEYS[1], pos .. '-0', unpack(ARGV, 4))
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
