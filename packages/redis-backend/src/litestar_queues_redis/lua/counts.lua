-- ARGV: P. Counts records per queue and status: {queue, pending, scheduled, running, completed,
-- failed, cancelled, ...}; finished records past their retention are not counted (and up to
-- 1,000 of them per set are forgotten, with their listing entries).
local now = server_ms()
local out = {}
for _, q in ipairs(redis.call('SMEMBERS', P .. ':queues')) do
  local row = {q, redis.call('ZCARD', qkey(q, 'ready')), redis.call('ZCARD', qkey(q, 'delayed')),
    redis.call('ZCARD', qkey(q, 'leases'))}
  for _, status in ipairs({'completed', 'failed', 'cancelled'}) do
    trim(q, status, now, 1000)
    row[#row + 1] = redis.call('ZCOUNT', qkey(q, status), '(' .. now, '+inf')
  end
  out[#out + 1] = row
end
return out
