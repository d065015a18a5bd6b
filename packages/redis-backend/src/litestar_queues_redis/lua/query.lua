-- ARGV: P, order ('desc' or 'asc'), from, to (ZRANGEBYLEX bounds, in the order's direction: where
-- reading starts and where it ends), limit (records wanted), budget (index entries to read at
-- most), finished_after, finished_before ('' = no bound, else integer microseconds), key ('' =
-- any, else 's'..key), nt, then nt task names (0 = any), nq, then nq queues (0 = every queue),
-- ns, then ns statuses (0 = every status).
-- Merges the listing indexes of those queues and statuses in the order (created_at, id), reads
-- them from `from` on, and checks each record met against the filters. An entry whose record is
-- gone (its retention ended, or it was deleted) or does not name it is dropped; an entry left in
-- the index of another status or queue is moved where it belongs; a malformed record is buried.
-- Returns {replies of the matching records in order, {'!', id, reason} of the buried ones, the
-- last entry read (false: none), 1 when the indexes ended, else 0 (call again after that entry)}.
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
queues = queues or redis.call('SMEMBERS', P .. ':queues')
statuses = statuses or STATUSES
local unindexed = key or tasks or finished_after or finished_before

-- the sources: one index per queue and status, each read in growing chunks
local sources = {}
for _, q in ipairs(queues) do
  for _, status in ipairs(statuses) do
    sources[#sources + 1] = {key = xkey(q, status), queue = q, status = status}
  end
end
local chunk = math.min(budget, math.max(8, math.ceil(limit / math.max(#sources, 1)) + 1))

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
for _, s in ipairs(sources) do
  s.n = chunk
  if fill(s) then
    heap[#heap + 1] = s
    up(#heap)
  end
end

local out, buried = {}, {}

local function task_of(id, v)
  local name = redis.call('HGET', rkey(id), 'task')
  if name then return name end
  local ok, doc = pcall(cjson.decode, v[15])  -- a record without the field: its JSON says
  return ok and type(doc) == 'table' and doc.task_name or nil
end

-- Whether the fields the filters outside the index read (key, finished_at, task) pass them.
local function passes(record_key, finished, task)
  if key and record_key ~= key then return false end
  if finished_after or finished_before then
    local f = finished and tonumber(finished)
    if not f or (finished_after and f < finished_after) or (finished_before and f >= finished_before) then
      return false
    end
  end
  return not tasks or (task and tasks[task]) or false
end

local function consider(s, m)
  local id = string.sub(m, 15)
  if unindexed then  -- a cheap look first: most entries fail a selective filter
    local f = redis.pcall('HMGET', rkey(id), 'key', 'finished_at', 'task')
    if not f.err and f[3] and not passes(f[1], f[2], f[3]) then return end
  end
  local r, why = state(id)
  if r == false then
    redis.call('ZREM', s.key, m)
    buried[#buried + 1] = bury(id, why)
    return
  end
  if not r or r.ix ~= m then  -- its retention ended, it was deleted, or the entry is not its own
    redis.call('ZREM', s.key, m)
    return
  end
  if r.queue ~= s.queue or r.status ~= s.status then  -- a change left it behind: move it
    redis.call('ZREM', s.key, m)
    redis.call('ZADD', xkey(r.queue, r.status), 0, m)
  end
  if (wanted_status and not wanted_status[r.status]) or (wanted_queue and not wanted_queue[r.queue]) then
    return
  end
  if unindexed and not passes(r.key, r.v[12], tasks and task_of(id, r.v)) then return end
  out[#out + 1] = reply(id, r, {})
end

local read, last, seen = 0, false, {}
while #out < limit and read < budget and #heap > 0 do
  local s = heap[1]
  local m = s.buf[s.i]
  s.i = s.i + 1
  if s.i > #s.buf and (s.done or not fill(s)) then
    heap[1] = heap[#heap]
    heap[#heap] = nil
  end
  if #heap > 0 then down(1) end
  read, last = read + 1, m
  if not seen[m] then
    seen[m] = true
    consider(s, m)
  end
end
return {out, buried, last, #heap == 0 and 1 or 0}
