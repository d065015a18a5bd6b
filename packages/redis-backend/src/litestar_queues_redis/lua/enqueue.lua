-- ARGV: P, n, then per record the 14 arguments of store() (lua/store.lua). Returns per record
-- {1} (stored) or {0, reply} (the active record holding the key, or the record already stored
-- under the id).
local n = tonumber(ARGV[2])
local out = {}
for i = 0, n - 1 do
  out[#out + 1] = store(3 + i * 14)
end
flush_index()
return out
