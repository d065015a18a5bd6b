-- Queue limits in a claim (placed between common.lua and claim.lua, claim_task.lua). P:limits maps
-- a queue to its limit, "concurrency rate per key_concurrency" ('-' for none); P:q:<q>:bucket holds
-- a rate's token bucket: tokens, and the time they were counted (at, microseconds). A queue's
-- running records are its leases set (ZCARD), those of one limit key the set lkkey(q, key) (SCARD),
-- kept in step by take() and clear_lease().
local BUDGET = 1000  -- held-back records a claim passes over per queue, at most (a bound on its time)

-- The gate of queue q at time now (microseconds), or nil when q has no limit.
local function gate(q, now)
  local raw = redis.call('HGET', P .. ':limits', q)
  if not raw then return nil end
  local c, r, per, k = string.match(raw, '^(%S+) (%S+) (%S+) (%S+)$')
  local g = {q = q, concurrency = tonumber(c), rate = tonumber(r), per = tonumber(per) or 1,
    keycap = tonumber(k), keys = {}, started = 0, held = false}
  g.running = redis.call('ZCARD', qkey(q, 'leases'))
  if g.rate then
    local b = redis.call('HMGET', qkey(q, 'bucket'), 'tokens', 'at')
    local tokens, at = tonumber(b[1]), tonumber(b[2])
    if tokens and at then
      -- the arithmetic of QueueLimit.tokens, in the same order: every backend counts alike
      local elapsed = math.max(0, now - at)
      g.tokens = math.min(g.rate, tokens + elapsed * g.rate / (g.per * 1000000))
      g.at = math.max(at, now)
    else
      g.tokens, g.at = g.rate, now
    end
  end
  return g
end

-- Whether a record of the gate's queue may start as far as its cap and bucket go.
local function gate_open(g)
  if g.concurrency and g.running >= g.concurrency then return false end
  if g.rate and g.tokens < 1 then
    g.held = true  -- out of tokens with a record due: the claim says when one comes
    return false
  end
  return true
end

-- Whether a record with limit key lkey (false: none) may start as far as the key cap goes.
local function key_open(g, lkey)
  if not (g.keycap and lkey) then return true end
  local n = g.keys[lkey]
  if n == nil then
    n = redis.call('SCARD', lkkey(g.q, lkey))
    g.keys[lkey] = n
  end
  return n < g.keycap
end

-- Counts a record that starts.
local function admit(g, lkey)
  g.running = g.running + 1
  if lkey and g.keycap then
    key_open(g, lkey)  -- reads the key's count when this claim has not yet
    g.keys[lkey] = g.keys[lkey] + 1
  end
  if g.rate then
    g.tokens = g.tokens - 1
    g.started = g.started + 1
  end
end

-- Stores the bucket of a queue the claim took tokens from (exact: %.17g round-trips a double).
local function store_bucket(g)
  if g.rate and g.started > 0 then
    redis.call('HSET', qkey(g.q, 'bucket'), 'tokens', string.format('%.17g', g.tokens),
      'at', string.format('%d', g.at))
  end
end

-- Microseconds until a queue that held a record back for want of a token has one, or nil.
local function token_wait(gates)
  local wait = nil
  for _, g in pairs(gates) do
    if g.held and g.rate and g.tokens < 1 then
      local w = math.max(0, (1 - g.tokens) * g.per * 1000000 / g.rate)
      if wait == nil or w < wait then wait = w end
    end
  end
  return wait
end
