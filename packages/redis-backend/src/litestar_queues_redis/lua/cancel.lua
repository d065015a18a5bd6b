-- ARGV: P, id, now, ttl_ms. Cancels a pending, scheduled or running record.
local id, now, ttl = ARGV[2], ARGV[3], tonumber(ARGV[4])
local s, why = state(id)
if s == false then return bury(id, why) end
if not s then return false end
if not TERMINAL[s.status] then
  redis.call('ZREM', qkey(s.queue, 'ready'), s.member)
  redis.call('ZREM', qkey(s.queue, 'delayed'), id)
  clear_lease(id, s)
  redis.call('HSET', rkey(id), 'status', 'cancelled', 'finished_at', now)
  settle(id, s, 'cancelled', ttl)
end
return reply(id)
