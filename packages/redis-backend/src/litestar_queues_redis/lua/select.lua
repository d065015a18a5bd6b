-- The selection of query.lua and delete.lua (prepended to both after common.lua), so both choose
-- the same records. ARGV: P, order ('desc' or 'asc'), from, to (ZRANGEBYLEX bounds, in the
-- order's direction: where reading starts and where it ends), limit (records wanted), budget
-- (index entries to read at most), finished_after, finished_before ('' = no bound, else integer
-- microseconds), key ('' = any, else 's'..key), nt, then nt task names (0 = any), nq, then nq
-- queues (0 = every queue), ns, then ns statuses (0 = every status).
-- select_records() merges the listing indexes of those queues and statuses in the order
-- (created_at, id), reads them from `from` on, and checks each record met against the filters.
-- With a key it reads the key's own index instead, P:keyix:<key> (the same members, the records
-- holding that key): it costs the key's records, not the store's, and the queue and status
-- filters are checked on the records met like the others.
-- An entry whose record is gone (its retention ended, or it was deleted) or does not name it is
-- dropped (with its retention entry); an entry left in the index of another status or queue is
-- moved where it belongs; a malformed record is buried (its notice in `buried`).
local desc = ARGV[2] == 'desc'
local RANGE = desc and 'ZREVRANGEBYLEX' or 'ZRANGEBYLEX'
local from, to = ARGV[3], ARGV[4]
local limit, budget = tonumber(ARGV[5]), tonumber(ARGV[6])
local finished_after, finished_before = tonumber(ARGV[7]), tonumber(ARGV[8])  -- nil for ''
local key = ARGV[9] ~= '' and string.sub(ARGV[9], 2) or nil
local at = 10
local function names()
  local n = tonumber(ARGV[at])
  local list, set = {}, {}
  for i = 1, n do
    list[i] = ARGV[at + i]
    set[list[i]] = true
  end
  at = at + n + 1
  if n == 0 then return nil, nil end
  return list, set
end
local _, tasks = names()
local queues, wanted_queue = names()
local statuses, wanted_status = names()
local kix = key and (P .. ':keyix:' .. key)
-- filters checked on the records met (the key is the index read when given)
local unindexed = tasks or finished_after or finished_before
local buried = {}

-- the sources: one index per queue and status, each read in growing chunks
local function sources_of()
  if kix then return {{key = kix}} end
  local sources = {}
  for _, q in ipairs(queues or redis.call('SMEMBERS', P .. ':queues')) do
    for _, status in ipairs(statuses or STATUSES) do
      sources[#sources + 1] = {key = xkey(q, status), queue = q, status = status}
    end
  end
  return sources
end

local function fill(s)
  local got = redis.call(RANGE, s.key, s.last and ('(' .. s.last) or from, to, 'LIMIT', 0, s.n)
  s.buf, s.i, s.done = got, 1, #got < s.n
  if #got > 0 then s.last = got[#got] end
  s.n = math.min(s.n * 2, budget)
  return #got > 0
end

-- a binary heap of the sources by their next entry: the first in the order on top
local heap = {}
local function before(a, b)
  local x, y = a.buf[a.i], b.buf[b.i]
  if desc then return x > y end
  return x < y
end
local function up(i)
  while i > 1 do
    local p = math.floor(i / 2)
    if not before(heap[i], heap[p]) then return end
    heap[i], heap[p] = heap[p], heap[i]
    i = p
  end
end
local function down(i)
  local n = #heap
  while true do
    local l, r, m = 2 * i, 2 * i + 1, i
    if l <= n and before(heap[l], heap[m]) then m = l end
    if r <= n and before(heap[r], heap[m]) then m = r end
    if m == i then return end
    heap[i], heap[m] = heap[m], heap[i]
    i = m
  end
end

local function start_heap()
  local sources = sources_of()
  local chunk = math.min(budget, math.max(8, math.ceil(limit / math.max(#sources, 1)) + 1))
  for _, s in ipairs(sources) do
    s.n = chunk
    if fill(s) then
      heap[#heap + 1] = s
      up(#heap)
    end
  end
end

-- the next entry in the order and its source (the heap must not be empty)
local function next_entry()
  local s = heap[1]
  local m = s.buf[s.i]
  s.i = s.i + 1
  if s.i > #s.buf and (s.done or not fill(s)) then
    heap[1] = heap[#heap]
    heap[#heap] = nil
  end
  if #heap > 0 then down(1) end
  return s, m
end

local function task_of(id, v)
  local name = redis.call('HGET', rkey(id), 'task')
  if name then return name end
  local ok, doc = pcall(cjson.decode, v[15])  -- a record without the field: its JSON says
  return ok and type(doc) == 'table' and doc.task_name or nil
end

-- Whether the fields the filters outside the indexes read (finished_at, task) pass them.
local function passes(finished, task)
  if finished_after or finished_before then
    local f = finished and tonumber(finished)
    if not f or (finished_after and f < finished_after) or (finished_before and f >= finished_before) then
      return false
    end
  end
  return not tasks or (task and tasks[task]) or false
end

-- Drops an entry whose record is gone: from the index, and from the retention and finish-time
-- sets of a finished status (a record whose result_ttl expired leaves them behind until a script
-- meets them).
local function drop_stale(s, m)
  redis.call('ZREM', s.key, m)
  if TERMINAL[s.status] then
    redis.call('ZREM', qkey(s.queue, s.status), m)
    redis.call('ZREM', fkey(s.queue, s.status), m)
  end
end

-- The id and state of the record of entry `m` of source `s` when it matches, else nil.
local consider_keyed
local function consider(s, m)
  if kix then return consider_keyed(s, m) end
  local id = string.sub(m, 15)
  if unindexed then  -- a cheap look first: most entries fail a selective filter
    local f = redis.pcall('HMGET', rkey(id), 'finished_at', 'task')
    if not f.err and f[2] and not passes(f[1], f[2]) then return nil end
  end
  local r, why = state(id)
  if r == false then
    redis.call('ZREM', s.key, m)
    buried[#buried + 1] = bury(id, why)
    return nil
  end
  if not r then  -- its retention ended, or it was deleted
    drop_stale(s, m)
    return nil
  end
  if r.ix ~= m then  -- the entry is not its own
    redis.call('ZREM', s.key, m)
    return nil
  end
  if r.queue ~= s.queue or r.status ~= s.status then  -- a change left it behind: move it
    redis.call('ZREM', s.key, m)
    redis.call('ZADD', xkey(r.queue, r.status), 0, m)
  end
  if (wanted_status and not wanted_status[r.status]) or (wanted_queue and not wanted_queue[r.queue]) then
    return nil
  end
  if unindexed and not passes(r.v[12], tasks and task_of(id, r.v)) then return nil end
  return id, r
end

-- consider() for an entry of the key index: an entry whose record is gone, malformed, or
-- does not hold the key at that position any more is dropped from the key index (the listing
-- indexes are left to the listings that meet their entries).
consider_keyed = function(s, m)
  local id = string.sub(m, 15)
  if unindexed then
    local f = redis.pcall('HMGET', rkey(id), 'finished_at', 'task')
    if not f.err and f[2] and not passes(f[1], f[2]) then return nil end
  end
  local r, why = state(id)
  if r == false then
    redis.call('ZREM', s.key, m)
    buried[#buried + 1] = bury(id, why)
    return nil
  end
  if not r or r.ix ~= m or r.key ~= key then
    redis.call('ZREM', s.key, m)
    return nil
  end
  if (wanted_status and not wanted_status[r.status]) or (wanted_queue and not wanted_queue[r.queue]) then
    return nil
  end
  if unindexed and not passes(r.v[12], tasks and task_of(id, r.v)) then return nil end
  return id, r
end

-- Reads up to `budget` entries in the order and calls on_match(id, state) for each matching
-- record, up to `limit` of them. Returns the number matched, the last entry read (false: none),
-- and 1 when the indexes ended, else 0 (call again after that entry).
local function select_records(on_match)
  start_heap()
  local matched, read, last, seen = 0, 0, false, {}
  while matched < limit and read < budget and #heap > 0 do
    local s, m = next_entry()
    read, last = read + 1, m
    if not seen[m] then
      seen[m] = true
      local id, r = consider(s, m)
      if id then
        matched = matched + 1
        on_match(id, r)
      end
    end
  end
  return matched, last, #heap == 0 and 1 or 0
end
