-- ARGV: P, since (integer microseconds, the caller's clock). Counts the finished records of every
-- queue and finished status with finished_at >= since: one ZCOUNT of the finish-time set each.
-- Records whose retention ended (result_ttl) are forgotten first, up to 1,000 per set, as
-- counts.lua does, so they are not counted. Returns {queue, status, n, ...} without zeros.
local since, now = ARGV[2], server_ms()
local out = {}
for _, q in ipairs(redis.call('SMEMBERS', P .. ':queues')) do
  for _, status in ipairs({'completed', 'failed', 'cancelled'}) do
    trim(q, status, now, 1000)
    local n = redis.call('ZCOUNT', fkey(q, status), since, '+inf')
    if n > 0 then
      out[#out + 1] = q
      out[#out + 1] = status
      out[#out + 1] = n
    end
  end
end
return out
