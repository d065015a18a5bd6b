-- set_schedule_paused. ARGV: P, name, '1' (pause) or '0' (resume), now (microseconds). Stores
-- paused and updated_at on a stored state (its due times are kept); creates none. Returns
-- {notices, state or false}.
local name, paused, now = ARGV[2], ARGV[3], ARGV[4]
local notices = {}
local v = schedule_read(name, notices)
if not v then return {notices, false} end
redis.call('HSET', skey(name), 'paused', paused, 'updated_at', now)
v[2], v[5] = paused, now
return {notices, schedule_reply(name, v)}
