-- ARGV: those of select.lua. Lists the matching records (select.lua's selection) from `from` on.
-- Returns {replies of the matching records in order, {'!', id, reason} of the buried ones, the
-- last entry read (false: none), 1 when the indexes ended, else 0 (call again after that entry)}.
local out = {}
local _, last, ended = select_records(function(id, r) out[#out + 1] = reply(id, r, {}) end)
return {out, buried, last, ended}
