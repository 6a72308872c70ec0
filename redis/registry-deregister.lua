-- Removes a service instance and announces it on the change feed.
-- KEYS[1] edgeway:{registry}:instances  hash   "<service>/<id>" -> record JSON
-- KEYS[2] edgeway:{registry}:expiry     zset   "<service>/<id>" scored by expiry, ms since epoch
-- KEYS[3] edgeway:{registry}:index      zset   "<service>/<id>" at score 0
-- ARGV[1] service
-- ARGV[2] id
-- ARGV[3] channel   change feed, e.g. edgeway:{registry}:changes
-- Returns 1 when the instance existed (and the service name was PUBLISHed), else 0. No TTLs.
local member = ARGV[1] .. '/' .. ARGV[2]
local removed = redis.call('HDEL', KEYS[1], member)
redis.call('ZREM', KEYS[2], member)
redis.call('ZREM', KEYS[3], member)
if removed == 1 then
  redis.call('PUBLISH', ARGV[3], ARGV[1])
end
return removed
