-- Stores a new API key (edgeway apikeys issue) and sweeps keys whose expiry has passed.
-- KEYS[1]  edgeway:{apikeys}:by-digest  hash: field = SHA-256 digest of the key (base64url), value = JSON record
-- KEYS[2]  edgeway:{apikeys}:ids        hash: field = key id, value = digest
-- KEYS[3]  edgeway:{apikeys}:expiry     sorted set: member = key id, score = expiry (ms since epoch); keys without TTL are absent
-- ARGV[1]  digest
-- ARGV[2]  key id
-- ARGV[3]  JSON record {id, consumer, scopes, createdAt, expiresAt}
-- ARGV[4]  expiry, ms since epoch; 0 for a key that never expires
-- Returns  1 when stored, 0 when the digest or the id already exists (a collision of random values: retry).
-- TTLs     none on the keys themselves; up to 100 expired keys are removed per call, so expired records
--          never pile up while keys are being issued. Gateways refuse an expired key on their own clock anyway.
-- Time comes from Redis TIME so every gateway agrees on what has expired.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, 100)
for _, id in ipairs(expired) do
  local digest = redis.call('HGET', KEYS[2], id)
  if digest then
    redis.call('HDEL', KEYS[1], digest)
  end
  redis.call('HDEL', KEYS[2], id)
  redis.call('ZREM', KEYS[3], id)
end

if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 or redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
local expiresAt = tonumber(ARGV[4])
if expiresAt > 0 then
  redis.call('ZADD', KEYS[3], expiresAt, ARGV[2])
end
return 1
