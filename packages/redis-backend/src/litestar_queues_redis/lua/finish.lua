-- ARGV: P, now, ttl_ms, n, then per outcome: id, lease_id, kind, result ('' or 's'..json),
-- error ('' = none or 's'..text), run_at ('' = now), history ('' = unchanged or 's'..json).
-- Returns per outcome a reply, or false when the outcome is rejected (the record is not running
-- under that lease), or {'!', id, reason} when the record was malformed (it is buried).
local now, ttl, n = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local out = {}
for i = 0, n - 1 do
  local b = 5 + i * 7
  local id, lease_id, kind = ARGV[b], ARGV[b + 1], ARGV[b + 2]
  local s, why = state(id)
  if s == false then
    out[#out + 1] = bury(id, why)
  elseif s and s.status == 'running' and s.lease_id == lease_id then
    local changed = {}
    if ARGV[b + 6] ~= '' then changed.history = opt(ARGV[b + 6]) end
    clear_lease(id, s, changed)
    if kind == 'complete' then
      changed.status, changed.finished_at, changed.result = 'completed', now, opt(ARGV[b + 3])
      write(id, changed)
      index(s, 'running', 'completed')
      settle(id, s, 'completed', ttl, now, changed)
    elseif kind == 'fail' then
      changed.status, changed.finished_at, changed.error = 'failed', now, opt(ARGV[b + 4])
      write(id, changed)
      index(s, 'running', 'failed')
      settle(id, s, 'failed', ttl, now, changed)
    elseif kind == 'retry' then
      local run_at = ARGV[b + 5]
      if run_at == '' then run_at = now end
      changed.run_at, changed.error = run_at, opt(ARGV[b + 4])
      if tonumber(run_at) > tonumber(now) then
        changed.status = 'scheduled'
        write(id, changed)
        redis.call('ZADD', qkey(s.queue, 'delayed'), run_at, id)
      else
        changed.status = 'pending'
        write(id, changed)
        to_ready(s)
      end
      index(s, 'running', changed.status)
    else
      changed.status, changed.attempts = 'pending', count(s.attempts - 1)
      write(id, changed)
      to_ready(s)
      index(s, 'running', 'pending')
    end
    out[#out + 1] = reply(id, s, changed)
  else
    out[#out + 1] = false
  end
end
flush_index()
return out
