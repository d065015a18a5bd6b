-- ARGV: P, id, now, lease_until, worker_id, lease_id. Claims one pending or scheduled record.
local id, now, lease_until, worker, lease_id = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local s, why = state(id)
if s == false then return bury(id, why) end
if not s or not (s.status == 'pending' or s.status == 'scheduled') then return false end
redis.call('ZREM', qkey(s.queue, 'ready'), s.member)
redis.call('ZREM', qkey(s.queue, 'delayed'), id)
local out = take(id, s, now, lease_until, worker, lease_id)
flush_index()
return out
