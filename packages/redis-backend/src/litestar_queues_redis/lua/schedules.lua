-- Schedule states (placed between common.lua and each schedule script): the hash
-- P:schedule:<name> holds one state, the set P:schedules the names of the stored states. Fields:
-- next_fire and updated_at (integer microseconds), paused ('1' or '0'), last_fire (microseconds,
-- '' = None), last_task_id (a task id, '' = None). Times are the caller's: the server's clock is
-- never read.
local SCHEDULE = {'next_fire', 'paused', 'last_fire', 'last_task_id', 'updated_at'}
local UUID = '^' .. string.rep('%x', 8) .. '%-' .. string.rep('%x', 4) .. '%-' .. string.rep('%x', 4)
  .. '%-' .. string.rep('%x', 4) .. '%-' .. string.rep('%x', 12) .. '$'

local function skey(name) return P .. ':schedule:' .. name end

local function is_time(x) return x and #x <= 17 and find(x, INT) end

-- Why the stored fields `v` (in SCHEDULE's order) are no state, or nil when they are one.
local function schedule_malformed(v)
  if not is_time(v[1]) then return 'field next_fire is missing or not an integer' end
  if v[2] ~= '0' and v[2] ~= '1' then return "field paused is missing or not '0' or '1'" end
  if not (v[3] == '' or is_time(v[3])) then return 'field last_fire is missing or not an integer' end
  if not (v[4] == '' or find(v[4], UUID)) then return 'field last_task_id is missing or not a task id' end
  if not is_time(v[5]) then return 'field updated_at is missing or not an integer' end
  return nil
end

-- Reads and checks the state of `name`: its fields in SCHEDULE's order, or nil when none is
-- stored. A malformed state (written behind the backend's back) is moved aside, renamed to
-- P:dead:schedule:<name>, and counts as none; `notices` gets {'!', name, reason} for the client
-- to log. So a damaged state never blocks its schedule: the next scheduler creates it afresh.
local function schedule_read(name, notices)
  local k = skey(name)
  if redis.call('EXISTS', k) == 0 then return nil end
  local v = redis.pcall('HMGET', k, unpack(SCHEDULE))
  local why
  if v.err then why = 'stored state is not a hash: ' .. v.err else why = schedule_malformed(v) end
  if not why then return v end
  redis.call('RENAME', k, P .. ':dead:schedule:' .. name)
  redis.call('SREM', P .. ':schedules', name)
  notices[#notices + 1] = {'!', name, why}
  return nil
end

-- A state as the scripts reply it: {name, next_fire, paused, last_fire, last_task_id, updated_at}.
local function schedule_reply(name, v) return {name, v[1], v[2], v[3], v[4], v[5]} end
