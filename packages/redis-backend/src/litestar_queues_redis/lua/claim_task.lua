-- ARGV: P, id, now, lease_until, worker_id, lease_id. Claims one pending or scheduled record,
-- within its queue's limit: one the limit holds back stays as it is, and the reply is false (or
-- {'~', microseconds until a token is due} when the bucket held it back).
local id, now, lease_until, worker, lease_id = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local s, why = state(id)
if s == false then return bury(id, why) end
if not s or not (s.status == 'pending' or s.status == 'scheduled') then return false end
local g = has_limit(s.queue) and gate(s.queue, tonumber(now)) or nil
if g then
  if not (gate_open(g) and key_open(g, s.lkey)) then
    local wait = token_wait({g})
    if wait then return {'~', string.format('%d', wait)} end
    return false
  end
  admit(g, s.lkey)
  store_bucket(g)
end
redis.call('ZREM', qkey(s.queue, 'ready'), s.member)
redis.call('ZREM', qkey(s.queue, 'delayed'), id)
local out = take(id, s, now, lease_until, worker, lease_id)
flush_index()
return out
