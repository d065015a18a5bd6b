-- ARGV: P, id, now, ttl_ms. Cancels a pending, scheduled or running record.
local id, now, ttl = ARGV[2], ARGV[3], tonumber(ARGV[4])
local s, why = state(id)
if s == false then return bury(id, why) end
if not s then return false end
local changed = {}
if not TERMINAL[s.status] then
  redis.call('ZREM', qkey(s.queue, 'ready'), s.member)
  redis.call('ZREM', qkey(s.queue, 'delayed'), id)
  changed.status, changed.finished_at = 'cancelled', now
  clear_lease(id, s, changed)
  write(id, changed)
  index(s, s.status, 'cancelled')
  settle(id, s, 'cancelled', ttl, now)
  flush_index()
end
return reply(id, s, changed)
