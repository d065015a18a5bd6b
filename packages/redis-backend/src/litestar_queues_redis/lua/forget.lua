-- ARGV: P, worker_id. Removes the worker's presence (a clean stop).
redis.call('ZREM', P .. ':workers:expiry', ARGV[2])
redis.call('HDEL', P .. ':workers', ARGV[2])
return 1
