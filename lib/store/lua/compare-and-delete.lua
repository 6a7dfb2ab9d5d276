-- Deletes KEYS[1] only if it holds exactly ARGV[1] (canonical JSON, see lib/store/codec.ts). Returns 1 when deleted.
-- A volatile record ("~<run_id>~<json>", see take.lua) is compared by its JSON, and only in the server run that
-- stored it: a stale one is deleted as the leftover it is, and counts as not found.
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
if string.byte(v, 1) == 126 then
  local run = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
  if string.sub(v, 2, 41) ~= run or string.byte(v, 42) ~= 126 then
    redis.call('DEL', KEYS[1])
    return 0
  end
  v = string.sub(v, 43)
end
if v == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
