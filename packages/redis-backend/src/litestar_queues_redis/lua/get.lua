-- ARGV: P, id. Returns the record's reply, false when unknown, or {'!', id, reason} (buried).
local id = ARGV[2]
local s, why = state(id)
if s == false then return bury(id, why) end
if not s then return false end
return reply(id, s, {})
