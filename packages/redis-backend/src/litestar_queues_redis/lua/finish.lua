-- ARGV: P, now, ttl_ms, n, then per outcome: id, lease_id, kind, result ('' or 's'..json),
-- error ('' = none or 's'..text), run_at ('' = now). Returns per outcome a reply, or false
-- when the outcome is rejected (the record is not running under that lease), or {'!', id, reason}
-- when the record was malformed (it is buried).
local now, ttl, n = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local out = {}
for i = 0, n - 1 do
  local b = 5 + i * 6
  local id, lease_id, kind = ARGV[b], ARGV[b + 1], ARGV[b + 2]
  local s, why = state(id)
  if s == false then
    out[#out + 1] = bury(id, why)
  elseif s and s.status == 'running' and s.lease_id == lease_id then
    local k = rkey(id)
    clear_lease(id, s)
    if kind == 'complete' then
      redis.call('HSET', k, 'status', 'completed', 'finished_at', now)
      set_opt(id, 'result', ARGV[b + 3])
      settle(id, s, 'completed', ttl)
    elseif kind == 'fail' then
      redis.call('HSET', k, 'status', 'failed', 'finished_at', now)
      set_opt(id, 'error', ARGV[b + 4])
      settle(id, s, 'failed', ttl)
    elseif kind == 'retry' then
      local run_at = ARGV[b + 5]
      if run_at == '' then run_at = now end
      set_opt(id, 'error', ARGV[b + 4])
      if tonumber(run_at) > tonumber(now) then
        redis.call('HSET', k, 'status', 'scheduled', 'run_at', run_at)
        redis.call('ZADD', qkey(s.queue, 'delayed'), run_at, id)
      else
        redis.call('HSET', k, 'status', 'pending', 'run_at', run_at)
        requeue(id, s)
      end
    else
      redis.call('HSET', k, 'status', 'pending')
      redis.call('HINCRBY', k, 'attempts', -1)
      requeue(id, s)
    end
    out[#out + 1] = reply(id)
  else
    out[#out + 1] = false
  end
end
return out
