-- ARGV: P, n, then n triples (id, ix, task name). Puts records in the listing index of their
-- current status. A record without an `ix` (written before the indexes existed) gets the given
-- ix and task name, and when finished its retention entry is renamed from its id to the ix. A
-- record with an ix (the given one is then '') that is missing from the index of its status is
-- put there and taken out of the other statuses' indexes of its queue: this repairs what an older
-- version of the backend left behind. A keyed record missing from the index of its key
-- (P:keyix:<key>, added after the listing indexes) is put there, and a finished record missing
-- from the finish-time set of its queue and status (P:q:<queue>:finished_<status>, added after
-- the key indexes) too. Running it twice changes nothing more. Returns {number of
-- records listed or moved, {'!', id, reason} of each malformed record met (buried)}.
local n = tonumber(ARGV[2])
local out, listed = {}, 0

-- A record finished by an older version is kept in the retention set (and maybe the finish-time
-- set) under its id: use its ix.
local function rekey_retention(id, s)
  if not TERMINAL[s.status] then return end
  for _, kept in ipairs({qkey(s.queue, s.status), fkey(s.queue, s.status)}) do
    local score = redis.call('ZSCORE', kept, id)
    if score then
      redis.call('ZREM', kept, id)
      redis.call('ZADD', kept, score, s.ix)
    end
  end
end

-- A record finished by a version before the finish-time sets: its finish time is noted there.
-- Returns whether it was missing.
local function note_finish(id, s)
  local finished = s.v[12]
  if not TERMINAL[s.status] or not finished or finished == '' then return false end
  return redis.call('ZADD', fkey(s.queue, s.status), 'NX', finished, s.ix or id) == 1
end

for i = 0, n - 1 do
  local b = 3 + i * 3
  local id, ix = ARGV[b], ARGV[b + 1]
  local s, why = state(id)
  local before = listed
  if s == false then
    out[#out + 1] = bury(id, why)
  elseif s and not s.ix and ix ~= '' then  -- written before the indexes: list it
    redis.call('HSET', rkey(id), 'ix', ix, 'task', ARGV[b + 2])
    s.ix = ix
    index(s, nil, s.status)
    listed = listed + 1
    rekey_retention(id, s)
  elseif s and s.ix and not redis.call('ZSCORE', xkey(s.queue, s.status), s.ix) then  -- misplaced
    for _, status in ipairs(STATUSES) do
      if status ~= s.status then redis.call('ZREM', xkey(s.queue, status), s.ix) end
    end
    redis.call('ZADD', xkey(s.queue, s.status), 0, s.ix)
    listed = listed + 1
    rekey_retention(id, s)
  end
  if s and s.key and s.ix and redis.call('ZADD', P .. ':keyix:' .. s.key, 'NX', 0, s.ix) == 1 and listed == before then
    listed = listed + 1
  end
  if s and note_finish(id, s) and listed == before then listed = listed + 1 end
end
flush_index()
return {listed, out}
