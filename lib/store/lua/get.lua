-- The record in KEYS[1] (lib/store/redis.ts get), as its JSON; false when absent. A volatile record
-- ("~<run_id>~<json>", see set-volatile.lua) is returned only in the server run that stored it: one a crash (or a
-- failover: the promoted replica has its own run id) brought back reads as absent.
local v = redis.call('GET', KEYS[1])
if not v then return false end
if string.byte(v, 1) ~= 126 then return v end
local run = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
if string.sub(v, 2, 41) ~= run or string.byte(v, 42) ~= 126 then return false end
return string.sub(v, 43)
