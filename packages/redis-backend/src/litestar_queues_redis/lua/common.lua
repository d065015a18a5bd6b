-- Shared prelude of every script (prepended by _scripts.py). ARGV[1] is the key prefix
-- with its hash tag, e.g. "{lq}"; every key of a backend lives under it (one cluster slot).
local P = ARGV[1]
-- A reply is {id, rec, meta}: rec is the JSON written at enqueue, meta a JSON object of the
-- fields changed since. A field missing from meta means "as in rec"; an empty string means None;
-- times are integer microseconds since the epoch.
local META = {'status', 'attempts', 'runs', 'reclaims', 'run_at', 'started_at', 'finished_at',
  'lease_id', 'lease_exp', 'worker_id', 'error', 'result'}
local STATE = {'status', 'queue', 'key', 'member', 'score', 'attempts', 'reclaims', 'max_reclaims',
  'rec', 'lease_id'}
local KNOWN = {pending = true, scheduled = true, running = true, completed = true, failed = true,
  cancelled = true}
local TERMINAL = {completed = true, failed = true, cancelled = true}

local function rkey(id) return P .. ':t:' .. id end
local function qkey(q, name) return P .. ':q:' .. q .. ':' .. name end

-- server time in ms: used only for retention (expiry of finished records), never for queue rules
local function server_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Reads the fields the scripts need. Returns the state table, or nil when no record has the
-- id, or false plus a reason when the stored record is malformed.
local function state(id)
  local v = redis.pcall('HMGET', rkey(id), unpack(STATE))
  if type(v) == 'table' and v.err then return false, 'stored record is not a hash: ' .. v.err end
  local empty = true
  for i = 1, #STATE do if v[i] then empty = false end end
  if empty then return nil end
  local s = {status = v[1], queue = v[2], key = v[3], member = v[4], score = v[5],
    attempts = tonumber(v[6]), reclaims = tonumber(v[7]), max_reclaims = tonumber(v[8]), lease_id = v[10]}
  if not (s.status and KNOWN[s.status] and s.queue and s.member and s.score and s.attempts
      and s.reclaims and s.max_reclaims and v[9]) then
    return false, 'stored record misses or has invalid state fields'
  end
  return s
end

local function reply(id)
  local v = redis.call('HMGET', rkey(id), 'rec', unpack(META))
  local meta = {}
  for i = 1, #META do
    if v[i + 1] then meta[META[i]] = v[i + 1] end
  end
  return {id, v[1], cjson.encode(meta)}
end

-- Moves a malformed record aside: the raw key is renamed to P:dead:<id> and P:dead maps the
-- id to a JSON description. Its index entries are dropped so it never blocks a queue.
local function bury(id, reason)
  local k = rkey(id)
  local dk = P .. ':dead:' .. id
  if redis.call('EXISTS', k) == 1 then redis.call('RENAME', k, dk) end
  redis.call('HSET', P .. ':dead', id, cjson.encode({error = reason, key = dk}))
  for _, q in ipairs(redis.call('SMEMBERS', P .. ':queues')) do
    redis.call('ZREM', qkey(q, 'leases'), id)
    redis.call('ZREM', qkey(q, 'delayed'), id)
  end
  return {'!', id, reason}
end

-- One wake-up token per list (the latch): an idle worker's BLPOP returns at once.
local function wake(q)
  redis.call('LPUSH', qkey(q, 'wake'), '1')
  redis.call('LTRIM', qkey(q, 'wake'), 0, 0)
  redis.call('LPUSH', P .. ':wake', '1')
  redis.call('LTRIM', P .. ':wake', 0, 0)
end

local function requeue(id, s)
  redis.call('ZADD', qkey(s.queue, 'ready'), s.score, s.member)
  wake(s.queue)
end

local function clear_lease(id, s)
  redis.call('HSET', rkey(id), 'lease_id', '', 'lease_exp', '')
  redis.call('ZREM', qkey(s.queue, 'leases'), id)
end

-- Terminal bookkeeping: release the dedup key, start the retention clock, notify waiters.
local function settle(id, s, status, ttl)
  local k = rkey(id)
  if s.key and redis.call('HGET', P .. ':keys', s.key) == id then
    redis.call('HDEL', P .. ':keys', s.key)
  end
  if ttl > 0 then
    local t = server_ms()
    redis.call('PEXPIRE', k, ttl)
    redis.call('ZREMRANGEBYSCORE', qkey(s.queue, status), '-inf', t)
    redis.call('ZADD', qkey(s.queue, status), t + ttl, id)
  else
    redis.call('ZADD', qkey(s.queue, status), '+inf', id)
  end
  redis.call('PUBLISH', P .. ':done:' .. id, status)
end

-- optional strings travel as '' (None) or 's' .. text; stored as '' (None) or the text
local function set_opt(id, field, value)
  redis.call('HSET', rkey(id), field, string.sub(value, 2))
end

local function take(id, s, now, lease_until, worker, lease_id)
  local k = rkey(id)
  redis.call('HSET', k, 'status', 'running', 'lease_id', lease_id, 'lease_exp', lease_until,
    'worker_id', worker, 'started_at', now)
  redis.call('HINCRBY', k, 'attempts', 1)
  redis.call('HINCRBY', k, 'runs', 1)
  redis.call('ZADD', qkey(s.queue, 'leases'), lease_until, id)
  return reply(id)
end
