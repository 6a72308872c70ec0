-- Adds one gateway's per-minute counts into a shared history hash.
-- KEYS[1]  edgeway:{history:<name>}:<minute start, epoch ms>   (hash; one per name per minute), where <name> is
--          a route: fields requests, e3 (3xx), e4 (4xx), e5 (5xx), rl (429), l<i> (latency sketch bucket i),
--                   x:<reason> (failures by reason: an error code, upstream_4xx or upstream_5xx)
--          @gateways: fields <gateway id>|requests, |e3, |e4, |e5, |rl
--          @instances: fields <service>|<instance id>|<attempt outcome>
--          @consumers: fields r|<sub> (requests) and l|<sub> (429s)
-- ARGV[1]  minute start, epoch milliseconds
-- ARGV[2]  retention after the minute starts, milliseconds (90000000 = 25 h)
-- ARGV[3..] field, increment pairs
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
