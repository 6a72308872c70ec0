-- Registers a service instance, or heartbeats it (same call): stores the record and pushes its expiry.
-- KEYS[1] edgeway:{registry}:instances  hash   "<service>/<id>" -> record JSON
-- KEYS[2] edgeway:{registry}:expiry     zset   "<service>/<id>" scored by expiry, ms since epoch (Redis TIME)
-- KEYS[3] edgeway:{registry}:index      zset   "<service>/<id>" at score 0, read by lexical range per service
-- ARGV[1] service   [A-Za-z0-9._:-]+
-- ARGV[2] id        [A-Za-z0-9._:-]+
-- ARGV[3] record    JSON object {"url": "http://host:port", "weight"?: n, "capacity"?: n, "meta"?: {k: "v"}, "draining"?: bool}
-- ARGV[4] ttl       milliseconds, a positive integer up to 86400000 (24h); the instance drops out this long after its last call
-- ARGV[5] channel   change feed, e.g. edgeway:{registry}:changes
-- Returns {changed, expiresAt}: changed is 1 when the record is new or differs (then the service name is
-- PUBLISHed on the channel), 0 for a plain heartbeat; expiresAt in ms since epoch.
-- No key TTLs: expiry is the sorted set, enforced by registry-sweep.lua that every gateway runs.
local service, id, record, channel = ARGV[1], ARGV[2], ARGV[3], ARGV[5]
local ttl = tonumber(ARGV[4])
local name = '^[%w%._:%-]+$'
if not string.match(service, name) or not string.match(id, name) then
  return redis.error_reply('ERR registry: service and id must match [A-Za-z0-9._:-]+')
end
if not ttl or ttl < 1 or ttl ~= math.floor(ttl) then
  return redis.error_reply('ERR registry: ttl must be a positive integer of milliseconds')
end
if ttl > 86400000 then
  return redis.error_reply('ERR registry: ttl must be at most 86400000 (24h)')
end
local ok, decoded = pcall(cjson.decode, record)
if not ok or type(decoded) ~= 'table' or type(decoded.url) ~= 'string' then
  return redis.error_reply('ERR registry: record must be a JSON object with a string "url"')
end

local member = service .. '/' .. id
local time = redis.call('TIME')
local expiresAt = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000) + ttl

local changed = 0
if redis.call('HGET', KEYS[1], member) ~= record then
  redis.call('HSET', KEYS[1], member, record)
  redis.call('ZADD', KEYS[3], 0, member)
  redis.call('PUBLISH', channel, service)
  changed = 1
end
redis.call('ZADD', KEYS[2], expiresAt, member)
return {changed, expiresAt}
