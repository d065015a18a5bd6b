-- The claim of one record (placed between common.lua and claim.lua, claim_task.lua; kept out of
-- common.lua so that the other scripts do not create its closure on every call): it becomes
-- running under a fresh lease, with attempts and runs counted.
local function take(id, s, now, lease_until, worker, lease_id)
  local changed = {status = 'running', lease_id = lease_id, lease_exp = lease_until, worker_id = worker,
    started_at = now, attempts = count(s.attempts + 1), runs = count(s.runs + 1)}
  write(id, changed)
  redis.call('ZADD', qkey(s.queue, 'leases'), lease_until, id)
  if s.lkey then redis.call('SADD', lkkey(s.queue, s.lkey), id) end
  index(s, s.status, 'running')
  return reply(id, s, changed)
end
