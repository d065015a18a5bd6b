-- ARGV: P, id, now, ttl_ms. Cancels a pending, scheduled or running record; a running one's id
-- is pushed to its worker's cancels list.
local id, now, ttl = ARGV[2], ARGV[3], tonumber(ARGV[4])
local s, why = state(id)
if s == false then return bury(id, why) end
if not s then return false end
local changed = {}
if not TERMINAL[s.status] then
  local worker = s.v[16]
  if s.status == 'running' and worker and worker ~= '' then
    -- tell the worker running it (wait_for_cancel); a list nobody reads expires in an hour
    local told = P .. ':cancels:' .. worker
    redis.call('RPUSH', told, id)
    redis.call('PEXPIRE', told, 3600000)
  end
  redis.call('ZREM', qkey(s.queue, 'ready'), s.member)
  redis.call('ZREM', qkey(s.queue, 'delayed'), id)
  changed.status, changed.finished_at = 'cancelled', now
  clear_lease(id, s, changed)
  write(id, changed)
  index(s, s.status, 'cancelled')
  settle(id, s, 'cancelled', ttl, now, changed)
  flush_index()
end
return reply(id, s, changed)
