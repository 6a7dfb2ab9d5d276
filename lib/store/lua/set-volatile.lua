-- SET of a volatile record (lib/store/redis.ts set/setIfAbsent, durability volatile): KEYS[1] gets
-- "~<run_id>~" .. ARGV[1], stamped here with the run id of the master that holds the key, so that a record this
-- server run did not write (restored by a crash, or replicated before a failover) is refused by get.lua and take.lua.
-- ARGV[2..] are SET options (PX <ms>, NX), passed through; returns what SET returns.
local run = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
return redis.call('SET', KEYS[1], '~' .. run .. '~' .. ARGV[1], unpack(ARGV, 2))
