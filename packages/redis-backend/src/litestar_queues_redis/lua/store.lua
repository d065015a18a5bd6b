-- The enqueue of one record, shared by enqueue.lua and schedule.lua (placed between common.lua
-- and each script), so a schedule's fire is stored by exactly the rules of an enqueue.
-- store(b) stores the record whose 14 arguments start at ARGV[b]: id, queue, status, score,
-- run_at, key ('' = none), attempts, runs, reclaims, max_reclaims, rec (msgspec JSON), ix
-- (listing position), task name, limit key ('' = none; kept in the field lkey, which the
-- claim reads for a queue's key cap). A keyed record is also put in the index of its key,
-- P:keyix:<key> (its ix, scored 0 like the listing indexes); an unkeyed one costs nothing more. Returns {1} (stored) or {0, reply} (the active record holding
-- the key, or the record already stored under the id). A malformed record met under the id or
-- the key is moved aside first (it holds neither any more). The caller runs flush_index() last.
local woken = {}  -- the queues woken by this script: one wake-up token each
local function store(b)
  local id, q, status, score, run_at, key = ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4], ARGV[b + 5]
  local existing, why = nil, nil
  if redis.call('EXISTS', rkey(id)) == 1 then existing, why = state(id) end  -- a new id: one cheap call
  if existing then
    return {0, reply(id, existing, {})}
  elseif existing == false then
    bury(id, why)
  end
  if key ~= '' then
    local holder = redis.call('HGET', P .. ':keys', key)
    if holder then
      local hs, hwhy = state(holder)
      if hs and not TERMINAL[hs.status] then
        return {0, reply(holder, hs, {})}
      elseif hs == false then
        bury(holder, hwhy)
      end
    end
  end
  local seq = redis.call('INCR', P .. ':seq')
  local member = string.format('%016d', seq) .. id
  local k, ix = rkey(id), ARGV[b + 11]
  redis.call('HSET', k, 'rec', ARGV[b + 10], 'status', status, 'queue', q, 'score', score,
    'member', member, 'run_at', run_at, 'attempts', ARGV[b + 6], 'runs', ARGV[b + 7],
    'reclaims', ARGV[b + 8], 'max_reclaims', ARGV[b + 9], 'ix', ix, 'task', ARGV[b + 12])
  index({queue = q, ix = ix}, nil, status)
  if ARGV[b + 13] ~= '' then redis.call('HSET', k, 'lkey', ARGV[b + 13]) end
  if key ~= '' then
    redis.call('HSET', k, 'key', key)
    redis.call('HSET', P .. ':keys', key, id)
    -- the key index (select.lua reads it for a key filter): the oldest two entries are dropped
    -- when their record is gone (its retention ended), so a key reused forever keeps no more
    -- entries than it has records
    local kix = P .. ':keyix:' .. key
    for _, old in ipairs(redis.call('ZRANGE', kix, 0, 1)) do
      if redis.call('EXISTS', rkey(string.sub(old, 15))) == 0 then redis.call('ZREM', kix, old) end
    end
    redis.call('ZADD', kix, 0, ix)
  end
  if redis.call('SADD', P .. ':queues', q) == 1 then
    -- a new queue: on a new prefix this marks every record as listed (see backend.open)
    redis.call('SET', P .. ':index_version', '3', 'NX')
  end
  if status == 'scheduled' then
    redis.call('ZADD', qkey(q, 'delayed'), run_at, id)
  else
    redis.call('ZADD', qkey(q, 'ready'), score, member)
    if not woken[q] then
      woken[q] = true
      wake(q)
    end
  end
  return {1}
end
