-- Adds a new current signing key, retiring the previous current key (edgeway signing-key store).
-- KEYS[1]  edgeway:{keys}:set      hash: kid -> JSON {kid, alg, createdAt, current, retireAfter?, jwk}
-- ARGV[1]  kid of the new key
-- ARGV[2]  alg of the new key (ES256 | EdDSA)
-- ARGV[3]  the new private JWK, as a JSON string (stored as a string, never re-encoded)
-- ARGV[4]  longest token TTL, milliseconds: a retired key verifies for this long after rotation
-- ARGV[5]  mode: "ensure" adds only when no current key exists; "rotate" always adds
-- ARGV[6]  pub/sub channel told about a change (edgeway:{keys}:changes)
-- Returns  1 when the key was added, 0 when "ensure" found a current key already.
-- TTLs     none on the hash; retired keys are deleted here once their retireAfter has passed.
-- Time comes from Redis TIME so every gateway and CLI agrees on it.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local maxTtl = tonumber(ARGV[4])

local records = redis.call('HGETALL', KEYS[1])
local currentKids = {}
for i = 1, #records, 2 do
  local record = cjson.decode(records[i + 1])
  if record.retireAfter ~= nil and record.retireAfter ~= cjson.null and tonumber(record.retireAfter) <= now then
    redis.call('HDEL', KEYS[1], records[i])
  elseif record.current then
    table.insert(currentKids, { records[i], record })
  end
end

if ARGV[5] == 'ensure' and #currentKids > 0 then
  return 0
end

for _, entry in ipairs(currentKids) do
  local record = entry[2]
  record.current = false
  record.retireAfter = now + maxTtl
  redis.call('HSET', KEYS[1], entry[1], cjson.encode(record))
end

local added = { kid = ARGV[1], alg = ARGV[2], createdAt = now, current = true, jwk = ARGV[3] }
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(added))
redis.call('PUBLISH', ARGV[6], ARGV[1])
return 1
