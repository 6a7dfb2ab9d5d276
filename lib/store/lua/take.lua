-- Atomic get-and-delete of KEYS[1] (lib/store/redis.ts take): returns {json, 1 when the record was volatile else 0},
-- or false when there was nothing to take. A volatile record ("~<run_id>~<json>") is handed out only by the server
-- run that stored it: one a crash brought back from the AOF (appendfsync everysec lost its deletion), or a promoted
-- replica holds (the failover lost its deletion), carries another run id and is deleted and refused, so a taken nonce
-- never becomes usable again.
local v = redis.call('GET', KEYS[1])
if not v then return false end
redis.call('DEL', KEYS[1])
if string.byte(v, 1) ~= 126 then return {v, 0} end
local run = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
if string.sub(v, 2, 41) ~= run or string.byte(v, 42) ~= 126 then return false end
return {string.sub(v, 43), 1}
