-- ARGV: P, queue, '1' (pause) or '0' (resume). The paused queues are the set P:paused, which
-- claim.lua reads in the same atomic step as it claims. A resume that unpauses the queue pushes
-- its wake-up tokens (as an enqueue does), so the workers waiting for it claim at once.
local q, paused = ARGV[2], ARGV[3] == '1'
if paused then
  redis.call('SADD', P .. ':paused', q)
elseif redis.call('SREM', P .. ':paused', q) == 1 then
  wake(q)
end
return 1
