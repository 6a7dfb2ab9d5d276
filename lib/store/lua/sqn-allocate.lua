-- Issues ARGV[1] SQNs after the last issued one in KEYS[1] (TS 33.102 Annex C profile 2, SQN = SEQ||IND, IND 5 bits):
-- each has SEQ + 1 and IND + 1 mod 32 over its predecessor; the key ends holding the last one. Mirrors allocateAfter()
-- in lib/store/sqn.ts. Lua numbers are doubles: every 48-bit integer is exact, but tostring() would print an
-- exponent, so values travel as '%.0f' strings.
local raw = redis.call('GET', KEYS[1])
local last = 0
if raw then
  last = tonumber(raw)
  if not last or not string.match(raw, '^%d+$') or last > 281474976710655 then
    return redis.error_reply('MCX_CORRUPT SQN counter is not a decimal in 0..2^48-1')
  end
end
local n = tonumber(ARGV[1])
local seq = math.floor(last / 32)
local ind = last % 32
if seq + n > 8796093022207 then
  return redis.error_reply('MCX_SQN_EXHAUSTED SEQ counter exhausted (2^43-1)')
end
local out = {}
for i = 1, n do
  seq = seq + 1
  ind = (ind + 1) % 32
  out[i] = string.format('%.0f', seq * 32 + ind)
end
redis.call('SET', KEYS[1], out[n])
return out
