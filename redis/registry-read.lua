-- Reads the registered instances of one service, or of all services, in one consistent step.
-- KEYS[1] edgeway:{registry}:instances  hash   "<service>/<id>" -> record JSON
-- KEYS[2] edgeway:{registry}:expiry     zset   "<service>/<id>" scored by expiry, ms since epoch
-- KEYS[3] edgeway:{registry}:index      zset   "<service>/<id>" at score 0
-- ARGV[1] service, or '' for every service
-- Returns a flat array {member, record JSON, expiresAt ms, ...}. Read-only; no TTLs.
local members
if ARGV[1] == '' then
  members = redis.call('ZRANGE', KEYS[3], 0, -1)
else
  -- '0' is the byte after '/', so this range is exactly the members "<service>/..."
  members = redis.call('ZRANGEBYLEX', KEYS[3], '[' .. ARGV[1] .. '/', '(' .. ARGV[1] .. '0')
end
local out = {}
for _, member in ipairs(members) do
  local record = redis.call('HGET', KEYS[1], member)
  local expiresAt = redis.call('ZSCORE', KEYS[2], member)
  if record and expiresAt then
    out[#out + 1] = member
    out[#out + 1] = record
    out[#out + 1] = expiresAt
  end
end
return out
