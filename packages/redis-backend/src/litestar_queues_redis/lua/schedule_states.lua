-- schedule_states. ARGV: P. Returns {notices, states}: every stored state as schedule_reply(), in
-- no particular order (the client sorts them by name). A name without a state (its hash deleted
-- behind the backend's back) is dropped from P:schedules.
local notices, states = {}, {}
for _, name in ipairs(redis.call('SMEMBERS', P .. ':schedules')) do
  local v = schedule_read(name, notices)
  if v then
    states[#states + 1] = schedule_reply(name, v)
  else
    redis.call('SREM', P .. ':schedules', name)
  end
end
return {notices, states}
