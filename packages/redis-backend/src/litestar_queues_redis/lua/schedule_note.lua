-- After a fire whose key was held by a record that only the client found malformed (and moved to
-- the dead letters), the client enqueued the fire's record again: the state then names that one.
-- ARGV: P, name, the buried holder's id, the id now holding the fire. Changes last_task_id only
-- while the state still names the buried record. Returns {notices, 1 when it did, else 0}.
local name, buried, id = ARGV[2], ARGV[3], ARGV[4]
local notices = {}
local v = schedule_read(name, notices)
if not (v and v[4] == buried) then return {notices, 0} end
redis.call('HSET', skey(name), 'last_task_id', id)
return {notices, 1}
