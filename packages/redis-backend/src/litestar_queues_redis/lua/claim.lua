-- ARGV: P, now, lease_until, worker_id, limit, nq, queue names (nq of them; 0 = every queue),
-- then `limit` fresh lease ids. Skips the paused queues (P:paused). Promotes due delayed
-- records, then claims up to `limit` ready records across the queues: lowest score (highest
-- priority) first, then lowest member (enqueue sequence), within the queues' limits (a record
-- a limit holds back stays in its place in the ready set and is passed over). Returns replies of
-- claimed records (and {'!', id, reason} for buried ones, and last {'~', microseconds} when a
-- queue held a record back for want of a token: when one is due). A malformed record met on
-- the way is buried, an entry naming no record is noted and dropped.
local now, lease_until, worker = ARGV[2], ARGV[3], ARGV[4]
local limit, nq = tonumber(ARGV[5]), tonumber(ARGV[6])
local queues = {}
if nq == 0 then
  queues = redis.call('SMEMBERS', P .. ':queues')
else
  for i = 1, nq do queues[i] = ARGV[6 + i] end
end
-- a paused queue is skipped whole (its due records are not even promoted); read in this atomic
-- step, so a claim that starts after set_paused returned never hands out one of its records
if redis.call('SCARD', P .. ':paused') > 0 then
  local open = {}
  for _, q in ipairs(queues) do
    if redis.call('SISMEMBER', P .. ':paused', q) == 0 then open[#open + 1] = q end
  end
  queues = open
end
local lease_base = 6 + nq
local out = {}

for _, q in ipairs(queues) do
  local dkey = qkey(q, 'delayed')
  local due = redis.call('ZRANGEBYSCORE', dkey, '-inf', now)
  if #due > 0 then
    for _, id in ipairs(due) do
      local s, why = state(id)
      if s and s.queue ~= q then s, why = false, 'field queue names another queue than its delayed entry' end
      if s then
        if s.status == 'scheduled' then
          redis.call('HSET', rkey(id), 'status', 'pending')
          redis.call('ZADD', qkey(q, 'ready'), s.score, s.member)
          index(s, 'scheduled', 'pending')
        end
      elseif s == false then
        out[#out + 1] = bury(id, why)
      else
        orphan(id, 'delayed')
      end
    end
    redis.call('ZREMRANGEBYSCORE', dkey, '-inf', now)
  end
end

local taken = 0
local function claim_member(q, member, g)
  local id = string.sub(member, 17)
  local s, why = state(id)
  if s and s.queue ~= q then s, why = false, 'field queue names another queue than its ready entry' end
  if s == false then
    out[#out + 1] = bury(id, why)
  elseif s == nil then
    orphan(id, 'ready')
  elseif s.status == 'pending' or s.status == 'scheduled' then
    if g then admit(g, s.lkey) end
    taken = taken + 1
    out[#out + 1] = take(id, s, now, lease_until, worker, ARGV[lease_base + taken])
  end
end

-- the gates of the limited queues (nothing is read when no queue has a limit)
local gates = {}
local gated = false
if redis.call('EXISTS', P .. ':limits') == 1 then
  local at = tonumber(now)
  for _, q in ipairs(queues) do
    gates[q] = gate(q, at)
    if gates[q] then gated = true end
  end
end

-- The first ready entry of q from position skip[q] on that its limit lets start, or nil; the
-- entries a key cap holds back are passed over (at most BUDGET of them per queue and claim).
local skip, passed = {}, {}
local function head(q)
  local g = gates[q]
  if g and not gate_open(g) then return nil end
  while true do
    local top = redis.call('ZRANGE', qkey(q, 'ready'), skip[q], skip[q], 'WITHSCORES')
    if not top[1] or not (g and g.keycap) then return top[1] and top or nil end
    local lkey = redis.call('HGET', rkey(string.sub(top[1], 17)), 'lkey')
    if key_open(g, lkey) then return top end
    skip[q], passed[q] = skip[q] + 1, passed[q] + 1
    if passed[q] >= BUDGET then return nil end
  end
end

if gated then
  local open = {}
  for _, q in ipairs(queues) do
    open[#open + 1] = q
    skip[q], passed[q] = 0, 0
  end
  while taken < limit and #open > 0 do
    local best_q, best_m, best_s = nil, nil, nil
    local still = {}
    for _, q in ipairs(open) do
      local top = head(q)
      if top then
        still[#still + 1] = q
        local sc = tonumber(top[2])
        if best_q == nil or sc < best_s or (sc == best_s and top[1] < best_m) then
          best_q, best_m, best_s = q, top[1], sc
        end
      end
    end
    open = still
    if best_q == nil then break end
    redis.call('ZREM', qkey(best_q, 'ready'), best_m)
    claim_member(best_q, best_m, gates[best_q])
  end
  for _, g in pairs(gates) do store_bucket(g) end
elseif #queues == 1 then
  local ready = qkey(queues[1], 'ready')
  while taken < limit do
    local popped = redis.call('ZPOPMIN', ready, limit - taken)
    if #popped == 0 then break end
    for i = 1, #popped, 2 do claim_member(queues[1], popped[i]) end
  end
else
  while taken < limit do
    local best_q, best_m, best_s = nil, nil, nil
    for _, q in ipairs(queues) do
      local top = redis.call('ZRANGE', qkey(q, 'ready'), 0, 0, 'WITHSCORES')
      if top[1] then
        local sc = tonumber(top[2])
        if best_q == nil or sc < best_s or (sc == best_s and top[1] < best_m) then
          best_q, best_m, best_s = q, top[1], sc
        end
      end
    end
    if best_q == nil then break end
    redis.call('ZREM', qkey(best_q, 'ready'), best_m)
    claim_member(best_q, best_m)
  end
end

-- work left behind: pass the wake-up on to the next idle worker (not for a queue its limit
-- holds back: the freed slot, or the next token, wakes its workers)
if taken >= limit then
  for _, q in ipairs(queues) do
    local g = gates[q]
    if redis.call('ZCARD', qkey(q, 'ready')) > 0 and not (g and not gate_open(g)) then wake(q) end
  end
end
flush_index()
if gated then
  local wait = token_wait(gates)
  if wait then out[#out + 1] = {'~', string.format('%d', wait)} end
end
return out
