-- Revokes a token id until the token's own expiry and tells every gateway (edgeway revocation list).
-- KEYS[1]  edgeway:{revocations}:set   sorted set: member jti, score = token expiry (ms since epoch)
-- ARGV[1]  jti
-- ARGV[2]  the token's expiry, milliseconds since epoch
-- ARGV[3]  pub/sub channel (edgeway:{revocations}:changes); message "<expiry ms> <jti>"
-- Returns  1 when recorded, 0 when the token has already expired (nothing to revoke).
-- TTLs     entries whose expiry has passed are removed on every call; the whole key expires
--          (PEXPIREAT) with its latest entry, so an idle list never outlives its tokens.
-- Time comes from Redis TIME so every gateway agrees on what has expired.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local expiresAt = tonumber(ARGV[2])

redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if expiresAt <= now then
  return 0
end

-- GT: a second revocation never shortens the first (new members are added as usual).
redis.call('ZADD', KEYS[1], 'GT', expiresAt, ARGV[1])
local latest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], latest[2])
redis.call('PUBLISH', ARGV[3], ARGV[2] .. ' ' .. ARGV[1])
return 1
