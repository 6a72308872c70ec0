-- Adds one gateway's per-minute request aggregate for a route into the shared history hash.
-- KEYS[1]  edgeway:{history:<route>}:<minute start, epoch ms>   (hash; one per route per minute)
-- ARGV[1]  minute start, epoch milliseconds
-- ARGV[2]  retention after the minute starts, milliseconds (90000000 = 25 h)
-- ARGV[3..] field, increment pairs: requests, e5 (5xx), e4 (4xx), rl (429), l<i> (latency sketch bucket i)
-- Returns 1 when added, 0 when the minute is already past retention (by Redis TIME) and was dropped.
-- TTL: the hash expires at minute start + retention (PEXPIREAT), so history stays bounded to ~24 h.
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local expires_at = tonumber(ARGV[1]) + tonumber(ARGV[2])
if expires_at <= now_ms then
  return 0
end
for i = 3, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('PEXPIREAT', KEYS[1], expires_at)
return 1
