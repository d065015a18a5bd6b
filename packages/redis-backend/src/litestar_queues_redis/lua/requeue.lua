-- ARGV: P, id, now. Puts a failed or cancelled record back in its queue: pending, due now, at its
-- place in the enqueue order, attempts and reclaims 0, finished_at, result and the lease cleared
-- (runs, error and history kept), holding its dedup key again and kept until it finishes again.
-- A record in another status, or whose key another active record holds, is returned unchanged.
-- Returns the reply, false for an unknown id, or {'!', id, reason} (buried).
local id, now = ARGV[2], ARGV[3]
local s, why = state(id)
if s == false then return bury(id, why) end
if not s then return false end
if s.status ~= 'failed' and s.status ~= 'cancelled' then return reply(id, s, {}) end
if s.key then
  local holder = redis.call('HGET', P .. ':keys', s.key)
  if holder and holder ~= id then
    local hs, hwhy = state(holder)
    if hs and not TERMINAL[hs.status] then return reply(id, s, {}) end
    if hs == false then bury(holder, hwhy) end
  end
  redis.call('HSET', P .. ':keys', s.key, id)
end
local changed = {status = 'pending', run_at = now, attempts = '0', reclaims = '0', finished_at = '',
  result = 'null', lease_id = '', lease_exp = ''}
write(id, changed)
redis.call('PERSIST', rkey(id))
for _, k in ipairs({qkey(s.queue, s.status), fkey(s.queue, s.status)}) do
  if s.ix then redis.call('ZREM', k, s.ix, id) else redis.call('ZREM', k, id) end
end
index(s, s.status, 'pending')
to_ready(s)
flush_index()
return reply(id, s, changed)
