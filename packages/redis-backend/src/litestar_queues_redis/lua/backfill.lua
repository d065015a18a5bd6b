-- ARGV: P, n, then n triples (id, ix, task name). Puts records in the listing index of their
-- current status. A record without an `ix` (written before the indexes existed) gets the given
-- ix and task name, and when finished its retention entry is renamed from its id to the ix. A
-- record with an ix (the given one is then '') is put in the index of its status and taken out
-- of the other statuses' indexes of its queue: this repairs entries an older version of the
-- backend left behind. Running it twice changes nothing more. Returns {number of records listed
-- or moved, {'!', id, reason} of each malformed record met (buried)}.
local n = tonumber(ARGV[2])
local out, listed = {}, 0
for i = 0, n - 1 do
  local b = 3 + i * 3
  local id, ix = ARGV[b], ARGV[b + 1]
  local s, why = state(id)
  if s == false then
    out[#out + 1] = bury(id, why)
  elseif s and (s.ix or ix ~= '') then
    if not s.ix then
      redis.call('HSET', rkey(id), 'ix', ix, 'task', ARGV[b + 2])
      s.ix = ix
    end
    local moved = false
    for _, status in ipairs(STATUSES) do
      if status ~= s.status and redis.call('ZREM', xkey(s.queue, status), s.ix) == 1 then moved = true end
    end
    if redis.call('ZADD', xkey(s.queue, s.status), 0, s.ix) == 1 then moved = true end
    if TERMINAL[s.status] then
      local kept = qkey(s.queue, s.status)
      local until_ = redis.call('ZSCORE', kept, id)
      if until_ then
        redis.call('ZREM', kept, id)
        redis.call('ZADD', kept, until_, s.ix)
      end
    end
    if moved then listed = listed + 1 end
  end
end
return {listed, out}
