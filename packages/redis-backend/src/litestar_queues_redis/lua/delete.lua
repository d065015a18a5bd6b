-- ARGV: those of select.lua. Deletes the records that query.lua would list for the same
-- arguments (select.lua's selection), except running ones: the status is the one read here, in
-- the same atomic step. Everything stored for a deleted record goes: its hash, its listing entry,
-- its ready or delayed entry (so no claim hands it out), its retention entry (what counts()
-- counts), its finish-time entry (what finished_counts() counts), its key index entry, and its
-- dedup key when it holds it; a waiter on its done channel is told.
-- Returns {ids deleted in order, number of records selected (running ones included: they count
-- towards the limit as query lists them), {'!', id, reason} of the buried ones, the last entry
-- read (false: none), 1 when the indexes ended, else 0}.
local gone, drops, ids = {}, {}, {}

-- Collects `member` for one ZREM of `k` when the script ends.
local function drop(k, member)
  local members = drops[k]
  if not members then
    members = {}
    drops[k] = members
  end
  members[#members + 1] = member
end

local function forget(id, r)
  if r.status == 'running' then return end  -- its worker's until it finishes or its lease expires
  local q = r.queue
  gone[#gone + 1] = rkey(id)
  drop(xkey(q, r.status), r.ix)
  if TERMINAL[r.status] then
    drop(qkey(q, r.status), r.ix)
    drop(qkey(q, r.status), id)  -- the member an older version wrote
    drop(fkey(q, r.status), r.ix)
    drop(fkey(q, r.status), id)
  else
    drop(qkey(q, 'ready'), r.member)
    drop(qkey(q, 'delayed'), id)
    redis.call('PUBLISH', P .. ':done:' .. id, 'deleted')
  end
  if r.key then
    if redis.call('HGET', P .. ':keys', r.key) == id then redis.call('HDEL', P .. ':keys', r.key) end
    if r.ix then drop(P .. ':keyix:' .. r.key, r.ix) end
  end
  ids[#ids + 1] = id
end

local matched, last, ended = select_records(forget)
for i = 1, #gone, 1000 do redis.call('DEL', unpack(gone, i, math.min(i + 999, #gone))) end
for k, members in pairs(drops) do
  for i = 1, #members, 1000 do redis.call('ZREM', k, unpack(members, i, math.min(i + 999, #members))) end
end
return {ids, matched, buried, last, ended}
