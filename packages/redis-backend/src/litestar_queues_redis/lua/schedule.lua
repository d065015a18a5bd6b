-- advance_schedule: one compare-and-set of a schedule's next_fire, enqueueing the fire's record
-- in the same step. ARGV: P, name, expected (microseconds; '' = the caller found no state),
-- next_fire, now, then, for a fire, the record's 14 arguments of store() (lua/store.lua).
-- Applies only when the stored next_fire is `expected` (the same integer text: the client writes
-- each time as canonical integer microseconds), or with expected '' when no state is stored.
-- Then it stores next_fire and updated_at = now (paused kept; a new state is not paused); a
-- fire's record is stored by the enqueue rules (a held key: not stored, the holder's id noted),
-- with last_fire = expected and last_task_id = the id stored or held. Otherwise nothing changes.
-- Returns {notices, state or false, holder reply or false}: state as schedule_reply(); the holder
-- reply when an active record held the fire's key (or its id), for the client to check its JSON.
local name, expected, next_fire, now = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local notices = {}
local v = schedule_read(name, notices)
if (v and v[1] or '') ~= expected then return {notices, false, false} end
local paused, last_fire, last_task = '0', '', ''
if v then paused, last_fire, last_task = v[2], v[3], v[4] end
local holder = false
if #ARGV > 5 then
  local stored = store(6)
  flush_index()
  if stored[1] == 1 then
    last_task = ARGV[6]
  else
    holder = stored[2]
    last_task = holder[1]
  end
  last_fire = expected
end
redis.call('HSET', skey(name), 'next_fire', next_fire, 'paused', paused, 'last_fire', last_fire,
  'last_task_id', last_task, 'updated_at', now)
redis.call('SADD', P .. ':schedules', name)
return {notices, schedule_reply(name, {next_fire, paused, last_fire, last_task, now}), holder}
