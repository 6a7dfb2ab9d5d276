-- Deletes KEYS[1] only if it holds exactly ARGV[1] (canonical JSON, see lib/store/codec.ts). Returns 1 when deleted.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
