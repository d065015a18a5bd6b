-- ARGV: P, duty, holder, now, until (integer microseconds, the caller's clock: the server's is
-- never read). The hash P:turn:<duty> holds the holder and the end of its turn. The turn is given
-- when nobody holds the duty, the holder's turn ended (until <= now), or `holder` holds it
-- already (its turn then moves to `until`). The key expires a little after the turn (10% and a
-- second later), a safety net only: the rule above decides. Returns 1 when given, else 0.
local k = P .. ':turn:' .. ARGV[2]
local holder, now, until_ = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local current = redis.call('HMGET', k, 'holder', 'until')
local ends = tonumber(current[2])
if current[1] and current[1] ~= holder and ends and ends > now then return 0 end
redis.call('HSET', k, 'holder', holder, 'until', ARGV[5])
local turn_ms = math.max(until_ - now, 0) / 1000
redis.call('PEXPIRE', k, count(math.ceil(turn_ms * 1.1) + 1000))
return 1
