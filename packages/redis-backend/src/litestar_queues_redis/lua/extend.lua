-- ARGV: P, until, n, then n pairs (id, lease_id). Returns the ids whose lease is not held, a
-- malformed record (buried here) as {'!', id, reason}.
local until_ = ARGV[2]
local n = tonumber(ARGV[3])
local lost = {}
for i = 0, n - 1 do
  local id, lease_id = ARGV[4 + i * 2], ARGV[5 + i * 2]
  local s, why = state(id)
  if s == false then
    lost[#lost + 1] = bury(id, why)
  elseif s and s.status == 'running' and s.lease_id == lease_id then
    redis.call('HSET', rkey(id), 'lease_exp', until_)
    redis.call('ZADD', qkey(s.queue, 'leases'), until_, id)
  else
    lost[#lost + 1] = id
  end
end
return lost
