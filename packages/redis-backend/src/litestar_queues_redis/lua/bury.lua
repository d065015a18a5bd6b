-- ARGV: P, id, reason. Moves a record that the client could not decode to the dead letters.
local id = ARGV[2]
local s = state(id)
if s then
  redis.call('ZREM', qkey(s.queue, 'ready'), s.member)
  if s.key and redis.call('HGET', P .. ':keys', s.key) == id then
    redis.call('HDEL', P .. ':keys', s.key)
  end
end
return bury(id, ARGV[3])
