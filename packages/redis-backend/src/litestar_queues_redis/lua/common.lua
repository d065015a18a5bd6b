-- Shared prelude of every script (prepended by _scripts.py). ARGV[1] is the key prefix
-- with its hash tag, e.g. "{lq}"; every key of a backend lives under it (one cluster slot).
local P = ARGV[1]
-- A reply is {id, rec, meta, history}: rec is the JSON written at enqueue, meta a JSON object of
-- the fields changed since. A field missing from meta means "as in rec"; an empty string means
-- None; times are integer microseconds since the epoch. history is the JSON of the attempt
-- history the last outcome stored, or nil (as in rec).
local META = {'status', 'attempts', 'runs', 'reclaims', 'run_at', 'started_at', 'finished_at',
  'lease_id', 'lease_exp', 'worker_id', 'error', 'result'}
-- Every field of a record, read and checked in one HMGET by state(); META_AT[i] is the
-- position of META[i] in STATE.
local STATE = {'status', 'queue', 'key', 'member', 'score', 'attempts', 'runs', 'reclaims',
  'max_reclaims', 'run_at', 'started_at', 'finished_at', 'lease_exp', 'lease_id', 'rec',
  'worker_id', 'error', 'result', 'ix', 'history', 'lkey'}
local META_AT = {1, 6, 7, 8, 10, 11, 12, 14, 13, 16, 17, 18}
local KNOWN = {pending = true, scheduled = true, running = true, completed = true, failed = true,
  cancelled = true}
local TERMINAL = {completed = true, failed = true, cancelled = true}
local STATUSES = {'pending', 'scheduled', 'running', 'completed', 'failed', 'cancelled'}

local function rkey(id) return P .. ':t:' .. id end
local function qkey(q, name) return P .. ':q:' .. q .. ':' .. name end
-- The set of the running records of a queue with one limit key (the key cap counts it); the
-- queue's length keeps a queue name and a limit key that contain ':' apart.
local function lkkey(q, lkey) return P .. ':lk:' .. #q .. ':' .. q .. ':' .. lkey end
-- The listing index of one queue and status: a sorted set whose members (all scored 0, so in
-- byte order) are the records' `ix`: created_at as 14 hex digits of (microseconds + 2^53), then
-- the id, so the byte order is the order (created_at, id).
local function xkey(q, status) return P .. ':q:' .. q .. ':index_' .. status end
-- The finish-time set of one queue and finished status: members are the records' `ix` (or the
-- bare id of a record written before the listing indexes), scored by finished_at (microseconds,
-- the caller's clock), so finished_counts is one ZCOUNT per set.
local function fkey(q, status) return P .. ':q:' .. q .. ':finished_' .. status end

-- server time in ms: used only for retention (expiry of finished records), never for queue rules
local function server_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- an integer counted in a script, written back as exact integer text
local function count(n) return string.format('%d', n) end

local find = string.find
-- Integer text (as Redis and count() write integers), short enough that a double holds it and
-- the client's datetime range covers it as microseconds (at most 17 characters: 3,000 years).
local INT = '^%-?%d+$'
-- a score ZADD accepts: decimal or exponent notation (no spaces, hex, inf or nan)
local SCORE = '^[%d%.eE%+%-]+$'
-- the start of an index member: 14 hex digits
local IX = '^' .. string.rep('%x', 14)

-- Why the fields of a record cannot be used, or nil when they can: O(1), a few anchored
-- patterns, inlined (this runs for every record a script touches).
local function malformed(id, v)
  if not KNOWN[v[1]] then return 'field status is missing or unknown' end
  if not v[2] or v[2] == '' then return 'field queue is missing or empty' end
  local member = v[4]
  if not (member and #member == 16 + #id and find(member, id, 17, true)) then
    return 'field member is missing or does not name the record'
  end
  local score = v[5]
  score = score and find(score, SCORE) and tonumber(score)
  if not (score and score > -math.huge and score < math.huge) then
    return 'field score is missing or not a finite number'
  end
  for i = 6, 10 do  -- attempts, runs, reclaims, max_reclaims, run_at
    local x = v[i]
    if not (x and #x <= 17 and find(x, INT)) then return 'field ' .. STATE[i] .. ' is missing or not an integer' end
  end
  for i = 11, 13 do  -- started_at, finished_at, lease_exp: '' is None
    local x = v[i]
    if x and x ~= '' and not (#x <= 17 and find(x, INT)) then return 'field ' .. STATE[i] .. ' is not an integer' end
  end
  if not v[15] then return 'field rec is missing' end
  local ix = v[19]  -- absent on records written before the listing indexes (until the backfill)
  if ix and not (#ix == 14 + #id and find(ix, id, 15, true) and find(ix, IX)) then
    return 'field ix is not a listing position of the record'
  end
  return nil
end

-- Reads and checks a record. Returns its state table (the raw fields in s.v), or nil when no
-- record has the id, or false plus a reason when the stored record is malformed.
local function state(id)
  local v = redis.pcall('HMGET', rkey(id), unpack(STATE))
  if v.err then return false, 'stored record is not a hash: ' .. v.err end
  if not v[1] then  -- no status: no record at all, unless other fields are there
    local empty = true
    for i = 2, #STATE do if v[i] then empty = false end end
    if empty then return nil end
  end
  local why = malformed(id, v)
  if why then return false, why end
  return {status = v[1], queue = v[2], key = v[3], member = v[4], score = v[5],
    attempts = tonumber(v[6]), runs = tonumber(v[7]), reclaims = tonumber(v[8]),
    max_reclaims = tonumber(v[9]), lease_id = v[14], ix = v[19], lkey = v[21], v = v}
end

-- The reply of a record from the fields state() read and the fields written since (`changed`,
-- field -> text): what reading the hash again would return, without reading it.
local function reply(id, s, changed)
  local v = s.v
  local meta = {}
  for i = 1, #META do
    local name = META[i]
    local value = changed[name]
    if value == nil then value = v[META_AT[i]] end
    if value then meta[name] = value end
  end
  return {id, v[15], cjson.encode(meta), changed.history or v[20]}
end

-- Writes `changed` (field -> text) in one HSET.
local function write(id, changed)
  local args = {}
  for field, value in pairs(changed) do
    args[#args + 1] = field
    args[#args + 1] = value
  end
  redis.call('HSET', rkey(id), unpack(args))
end

-- Listing moves are collected while a script runs and applied by flush_index() at its end: one
-- ZREM and one ZADD per index touched, so a claim or finish of n records costs two calls, not 2n.
-- Only each record's net move is applied (a scheduled record promoted, then claimed by the same
-- script goes from the scheduled index straight to the running one).
local moves, moved = {}, {}
-- Finish-time entries to add, per set (score, member pairs), by settle(); added by flush_index()
-- in one ZADD per set, as the listing moves are.
local finishes = {}

-- Moves a record's listing entry from the index of status `from` to that of `to` (either may be
-- nil), when the script ends. A record written before the indexes existed has no `ix` until the
-- backfill lists it.
local function index(s, from, to)
  local ix = s.ix
  if not ix then return end
  local m = moves[ix]
  if not m then
    m = {queue = s.queue, from = from}
    moves[ix] = m
    moved[#moved + 1] = ix
  end
  m.to = to
end

local function flush_index()
  local rem, add = {}, {}
  for _, ix in ipairs(moved) do
    local m = moves[ix]
    if m and m.from ~= m.to then
      if m.from then
        local k = xkey(m.queue, m.from)
        rem[k] = rem[k] or {}
        table.insert(rem[k], ix)
      end
      if m.to then
        local k = xkey(m.queue, m.to)
        add[k] = add[k] or {}
        table.insert(add[k], 0)
        table.insert(add[k], ix)
      end
    end
  end
  for k, members in pairs(rem) do
    for i = 1, #members, 1000 do redis.call('ZREM', k, unpack(members, i, math.min(i + 999, #members))) end
  end
  for k, pairs_ in pairs(add) do
    for i = 1, #pairs_, 2000 do redis.call('ZADD', k, unpack(pairs_, i, math.min(i + 1999, #pairs_))) end
  end
  for k, pairs_ in pairs(finishes) do
    for i = 1, #pairs_, 2000 do redis.call('ZADD', k, unpack(pairs_, i, math.min(i + 1999, #pairs_))) end
  end
  finishes = {}
end

-- Moves a malformed record aside: the raw key is renamed to P:dead:<id> and P:dead maps the
-- id to a JSON description. Its index entries are dropped (the ready entry, the dedup key and
-- the key index entry only where the fields still name this record) so it never blocks a queue nor is counted.
local function bury(id, reason)
  local k = rkey(id)
  local dk = P .. ':dead:' .. id
  local ix = nil
  if redis.call('EXISTS', k) == 1 then
    local f = redis.pcall('HMGET', k, 'queue', 'member', 'key', 'ix', 'lkey')
    if not f.err then
      local q, member, key = f[1], f[2], f[3]
      if q and member and #member == 16 + #id and string.sub(member, 17) == id then
        redis.call('ZREM', qkey(q, 'ready'), member)
      end
      if q and f[5] then redis.call('SREM', lkkey(q, f[5]), id) end
      if key and redis.call('HGET', P .. ':keys', key) == id then redis.call('HDEL', P .. ':keys', key) end
      if f[4] and #f[4] == 14 + #id and string.sub(f[4], 15) == id then
        ix = f[4]
        moves[ix] = nil  -- a move this script collected for it is dropped
        if key then redis.call('ZREM', P .. ':keyix:' .. key, ix) end
      end
    end
    redis.call('RENAME', k, dk)
  end
  redis.call('HSET', P .. ':dead', id, cjson.encode({error = reason, key = dk}))
  redis.call('PUBLISH', P .. ':done:' .. id, 'buried')  -- a waiter reads it: gone
  for _, q in ipairs(redis.call('SMEMBERS', P .. ':queues')) do
    for _, name in ipairs({'leases', 'delayed', 'completed', 'failed', 'cancelled'}) do
      redis.call('ZREM', qkey(q, name), id)
    end
    for _, name in ipairs({'completed', 'failed', 'cancelled'}) do redis.call('ZREM', fkey(q, name), id) end
    if ix then  -- an index entry it cannot name is dropped when a listing meets it
      for _, status in ipairs(STATUSES) do redis.call('ZREM', xkey(q, status), ix) end
      for _, name in ipairs({'completed', 'failed', 'cancelled'}) do
        redis.call('ZREM', qkey(q, name), ix)
        redis.call('ZREM', fkey(q, name), ix)
      end
    end
  end
  return {'!', id, reason}
end

-- Notes an index entry that names no record (deleted or evicted behind the backend's back);
-- the caller drops the entry. A record buried earlier keeps its own note.
local function orphan(id, index)
  if id ~= '' then
    redis.call('HSETNX', P .. ':dead', id, cjson.encode({
      error = 'an entry of the ' .. index .. ' set named it, but no record exists (deleted or evicted)',
      key = cjson.null}))
  end
end

-- One wake-up token per list (the latch): an idle worker's BLPOP returns at once.
local function wake(q)
  redis.call('LPUSH', qkey(q, 'wake'), '1')
  redis.call('LTRIM', qkey(q, 'wake'), 0, 0)
  redis.call('LPUSH', P .. ':wake', '1')
  redis.call('LTRIM', P .. ':wake', 0, 0)
end

-- Back into the ready set with its original member: its place in the enqueue order.
local function to_ready(s)
  redis.call('ZADD', qkey(s.queue, 'ready'), s.score, s.member)
  wake(s.queue)
end

-- Forgets up to `most` finished records of `status` whose retention ended before server time `t`:
-- their entries in the retention set, the finish-time set and the listing index (their hashes
-- expire by PEXPIRE).
-- A retention entry is the record's ix, or its bare id for a record finished before the indexes.
local function trim(q, status, t, most)
  local kept = qkey(q, status)
  local gone = redis.call('ZRANGEBYSCORE', kept, '-inf', t, 'LIMIT', 0, most)
  if #gone == 0 then return end
  redis.call('ZREM', kept, unpack(gone))
  redis.call('ZREM', fkey(q, status), unpack(gone))
  local listed = {}
  for _, m in ipairs(gone) do if #m == 50 then listed[#listed + 1] = m end end
  if #listed > 0 then redis.call('ZREM', xkey(q, status), unpack(listed)) end
end

-- Whether queue q has a limit (P:limits, read once per script and queue; nothing is read when
-- no queue has one).
local limited = nil
local function has_limit(q)
  if limited == nil then
    limited = {}
    if redis.call('EXISTS', P .. ':limits') == 0 then limited = false end
  end
  if limited == false then return false end
  if limited[q] == nil then limited[q] = redis.call('HEXISTS', P .. ':limits', q) == 1 end
  return limited[q]
end

-- Drops the lease entry (and the entry in its limit key's running set); the caller writes
-- lease_id and lease_exp as '' with its other fields. A running record of a limited queue frees
-- a slot: the queue's workers are woken.
local function clear_lease(id, s, changed)
  redis.call('ZREM', qkey(s.queue, 'leases'), id)
  changed.lease_id, changed.lease_exp = '', ''
  if s.status == 'running' then
    if s.lkey then redis.call('SREM', lkkey(s.queue, s.lkey), id) end
    if has_limit(s.queue) then wake(s.queue) end
  end
end

-- The message on a record's done channel, sent by settle() (decoded by FinishWaiter): the
-- status alone while no client of this server subscribes to the channel (nothing to build, copy
-- or replicate), else the record's reply {id, rec, meta, history} framed as
-- <#rec>:<rec><#meta>:<meta><history>, so the waiter needs no read. A record of more than
-- DONE_MAX bytes sends the status alone too: the waiter reads it.
local DONE_MAX = 65536
local function done_message(channel, id, s, status, changed)
  if redis.call('PUBSUB', 'NUMSUB', channel)[2] == 0 then return status end
  local r = reply(id, s, changed)
  local rec, meta, history = r[2], r[3], r[4] or ''
  if #rec + #meta + #history > DONE_MAX then return status end
  return #rec .. ':' .. rec .. #meta .. ':' .. meta .. history
end

-- Terminal bookkeeping: release the dedup key, note the finish time `now` (for the finish-time
-- set, added by flush_index(): the caller runs it last), start the retention clock (once per
-- script and retention set, forgetting up to 100 records whose retention ended), notify waiters
-- (`changed`: the fields the caller wrote, for the message). The caller moves the listing entry.
local trimmed = {}
local function settle(id, s, status, ttl, now, changed)
  local k = rkey(id)
  if s.key and redis.call('HGET', P .. ':keys', s.key) == id then
    redis.call('HDEL', P .. ':keys', s.key)
  end
  if ttl > 0 then
    local t = server_ms()
    redis.call('PEXPIRE', k, ttl)
    local kept = qkey(s.queue, status)
    if not trimmed[kept] then
      trimmed[kept] = true
      trim(s.queue, status, t, 100)
    end
    redis.call('ZADD', kept, t + ttl, s.ix or id)
  else
    redis.call('ZADD', qkey(s.queue, status), '+inf', s.ix or id)
  end
  local k = fkey(s.queue, status)  -- added by flush_index(), which the caller runs last
  local noted = finishes[k]
  if not noted then
    noted = {}
    finishes[k] = noted
  end
  noted[#noted + 1] = now
  noted[#noted + 1] = s.ix or id
  local channel = P .. ':done:' .. id
  redis.call('PUBLISH', channel, done_message(channel, id, s, status, changed))
end

-- optional strings travel as '' (None) or 's' .. text; stored as '' (None) or the text
local function opt(value) return string.sub(value, 2) end
