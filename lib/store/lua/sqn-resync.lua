-- 33.102 §6.3.5 on the counter in KEYS[1], for SQN_MS = ARGV[1] and delta = ARGV[2]: keep it when the next SQN the HE
-- would issue is acceptable to the USIM (SEQ above SEQ(SQN_MS) by at most delta); otherwise set it to
-- SEQ(SQN_MS)||IND(last), so the next SEQ is SEQ(SQN_MS)+1 and the HE's IND rotation continues. Mirrors resyncFrom()
-- in lib/store/sqn.ts. Returns {previous, current, reset (0/1), wentDown (0/1)}, SQNs as '%.0f' strings.
local raw = redis.call('GET', KEYS[1])
local last = 0
if raw then
  last = tonumber(raw)
  if not last or not string.match(raw, '^%d+$') or last > 281474976710655 then
    return redis.error_reply('MCX_CORRUPT SQN counter is not a decimal in 0..2^48-1')
  end
end
local ms = tonumber(ARGV[1])
local delta = tonumber(ARGV[2])
local seq_next = math.floor(last / 32) + 1
local seq_ms = math.floor(ms / 32)
local prev = string.format('%.0f', last)
if seq_next > seq_ms and seq_next - seq_ms <= delta then
  return {prev, prev, 0, 0}
end
local current = seq_ms * 32 + last % 32
local cur = string.format('%.0f', current)
redis.call('SET', KEYS[1], cur)
local went_down = 0
if current < last then went_down = 1 end
return {prev, cur, 1, went_down}
