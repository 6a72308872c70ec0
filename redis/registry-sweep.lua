-- Removes instances whose expiry has passed (by Redis TIME) and announces each affected service once.
-- Every gateway runs it every few hundred ms; concurrent runs are harmless (each member is removed once).
-- KEYS[1] edgeway:{registry}:instances  hash   "<service>/<id>" -> record JSON
-- KEYS[2] edgeway:{registry}:expiry     zset   "<service>/<id>" scored by expiry, ms since epoch
-- KEYS[3] edgeway:{registry}:index      zset   "<service>/<id>" at score 0
-- ARGV[1] channel   change feed, e.g. edgeway:{registry}:changes
-- ARGV[2] limit     most instances removed per call (bounds the time the script blocks Redis)
-- Returns the number of instances removed. No TTLs.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local services = {}
for _, member in ipairs(expired) do
  redis.call('HDEL', KEYS[1], member)
  redis.call('ZREM', KEYS[2], member)
  redis.call('ZREM', KEYS[3], member)
  services[string.match(member, '^[^/]+')] = true
end
for service in pairs(services) do
  redis.call('PUBLISH', ARGV[1], service)
end
return #expired
