-- ARGV: P, now (integer microseconds, the caller's clock). Returns the JSON of every presence
-- with expires_at > now (the client orders them).
local ids = redis.call('ZRANGEBYSCORE', P .. ':workers:expiry', '(' .. ARGV[2], '+inf')
if #ids == 0 then return {} end
local found = redis.call('HMGET', P .. ':workers', unpack(ids))
local out = {}
for i = 1, #ids do
  if found[i] then out[#out + 1] = found[i] end
end
return out
