-- Revokes an API key by id everywhere (edgeway apikeys revoke, DELETE /admin/apikeys/{id}).
-- KEYS[1]  edgeway:{apikeys}:by-digest  hash: field = digest, value = JSON record
-- KEYS[2]  edgeway:{apikeys}:ids        hash: field = key id, value = digest
-- KEYS[3]  edgeway:{apikeys}:expiry     sorted set: member = key id, score = expiry (ms since epoch)
-- ARGV[1]  key id
-- ARGV[2]  pub/sub channel (edgeway:{apikeys}:revoked); message = the key id
-- Returns  1 when the key existed and is gone, 0 when there was no such key.
-- TTLs     none. Removal and the message are one atomic step: a gateway that read the record before
--          it was removed hears of the removal afterwards and drops its cached copy.
local digest = redis.call('HGET', KEYS[2], ARGV[1])
if not digest then
  return 0
end
redis.call('HDEL', KEYS[1], digest)
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[1])
return 1
