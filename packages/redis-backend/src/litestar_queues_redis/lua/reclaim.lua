-- ARGV: P, now, ttl_ms. Every running record whose lease expired before `now` returns to its
-- queue (attempts - 1, reclaims + 1), or fails once reclaims exceed max_reclaims. A malformed
-- record is buried, an entry naming no record is noted and dropped.
local now, ttl = ARGV[2], tonumber(ARGV[3])
local out = {}
for _, q in ipairs(redis.call('SMEMBERS', P .. ':queues')) do
  local lkey = qkey(q, 'leases')
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', lkey, '-inf', '(' .. now)) do
    local s, why = state(id)
    if s and s.queue ~= q then s, why = false, 'field queue names another queue than its lease entry' end
    if s == false then
      out[#out + 1] = bury(id, why)
    elseif s == nil then
      orphan(id, 'leases')
      redis.call('ZREM', lkey, id)
    elseif s.status == 'running' then
      local reclaims = count(s.reclaims + 1)
      local changed = {attempts = count(s.attempts - 1), reclaims = reclaims}
      clear_lease(id, s, changed)
      if s.reclaims + 1 > s.max_reclaims then
        changed.status, changed.finished_at = 'failed', now
        changed.error = 'lease expired ' .. reclaims .. ' times: the task\'s worker was lost each time'
        write(id, changed)
        index(s, 'running', 'failed')
        settle(id, s, 'failed', ttl, now, changed)
      else
        changed.status, changed.error = 'pending', 'lease expired: the worker running the task was lost'
        write(id, changed)
        to_ready(s)
        index(s, 'running', 'pending')
      end
      out[#out + 1] = reply(id, s, changed)
    else
      redis.call('ZREM', lkey, id)
    end
  end
end
flush_index()
return out
