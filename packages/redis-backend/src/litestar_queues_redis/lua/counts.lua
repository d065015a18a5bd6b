-- ARGV: P. Drops finished records past their retention from the counts, then counts records
-- per queue and status: {queue, pending, scheduled, running, completed, failed, cancelled, ...}.
local now = server_ms()
local out = {}
for _, q in ipairs(redis.call('SMEMBERS', P .. ':queues')) do
  local row = {q, redis.call('ZCARD', qkey(q, 'ready')), redis.call('ZCARD', qkey(q, 'delayed')),
    redis.call('ZCARD', qkey(q, 'leases'))}
  for _, status in ipairs({'completed', 'failed', 'cancelled'}) do
    redis.call('ZREMRANGEBYSCORE', qkey(q, status), '-inf', now)
    row[#row + 1] = redis.call('ZCARD', qkey(q, status))
  end
  out[#out + 1] = row
end
return out
