-- delete_schedule. ARGV: P, name. Deletes the state (malformed or not) and its name; the records
-- its fires enqueued stay. Returns 1 when a state was stored, else 0.
local name = ARGV[2]
redis.call('SREM', P .. ':schedules', name)
return redis.call('DEL', skey(name))
