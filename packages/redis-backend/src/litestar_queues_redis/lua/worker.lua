-- ARGV: P, worker_id, info (msgspec JSON of the WorkerInfo), expires_at, seen_at (integer
-- microseconds, the caller's clock). Stores the worker's presence: the JSON in the hash
-- P:workers, its expiry in the sorted set P:workers:expiry. Presences of other workers that
-- expired by seen_at (expires_at <= seen_at) are dropped first, up to 100 per call, so the two
-- keys hold about one entry per live worker.
local workers, expiry = P .. ':workers', P .. ':workers:expiry'
local gone = redis.call('ZRANGEBYSCORE', expiry, '-inf', ARGV[5], 'LIMIT', 0, 100)
if #gone > 0 then
  redis.call('ZREM', expiry, unpack(gone))
  redis.call('HDEL', workers, unpack(gone))
end
redis.call('HSET', workers, ARGV[2], ARGV[3])
redis.call('ZADD', expiry, ARGV[4], ARGV[2])
return 1
