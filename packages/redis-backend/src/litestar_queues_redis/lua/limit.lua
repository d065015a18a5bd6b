-- ARGV: P, queue, limit ("concurrency rate per key_concurrency", '-' for none; '' removes it).
-- Stores, replaces or removes the queue's limit in P:limits. The token bucket stays while the
-- queue keeps a rate, and goes with it. Wakes the queue's workers (a raised or removed limit
-- may let records start), as a resume does.
local q, limit = ARGV[2], ARGV[3]
if limit == '' then
  redis.call('HDEL', P .. ':limits', q)
  redis.call('DEL', qkey(q, 'bucket'))
else
  redis.call('HSET', P .. ':limits', q, limit)
  if string.match(limit, '^%S+ %- ') then redis.call('DEL', qkey(q, 'bucket')) end
end
wake(q)
return 1
