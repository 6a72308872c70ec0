-- Changes the signing-key ring in one step (edgeway signing-key store; src/security/key-changes.ts is the same rule for the data-dir file).
-- KEYS[1]  edgeway:{keys}:set      hash: kid -> JSON {kid, alg, createdAt, state, current, retireAfter?, jwk}
--          state: next (published in the JWKS, not yet signing) | current (signs) | retiring (verifies until retireAfter)
--                 | revoked (never verifies; kept until retireAfter so that no gateway restores it). `current` mirrors state.
-- ARGV[1]  kid of the given key
-- ARGV[2]  its alg (ES256 | EdDSA)
-- ARGV[3]  its private JWK, as a JSON string (stored as a string, never re-encoded)
-- ARGV[4]  longest token TTL, milliseconds: a retired or revoked key is kept this long after the change
-- ARGV[5]  mode:
--            ensure   fills the first gap: with no current key the next key is promoted (the given key is unused)
--                     or, with no next key either, the given key becomes current; with no next key it becomes next
--            rotate   the next key becomes current (with none, the given key does), current keys retire, the given key becomes next
--            revoke   emergency: every key is revoked at once and the given key becomes current
--            restore  puts back a key a gateway still holds after the hash lost it (a Redis restarted without
--                     persistence); only when the kid is absent. A current key comes back retiring when another is
--                     current, a next key is dropped when another is next.
-- ARGV[6]  pub/sub channel told about a change (edgeway:{keys}:changes)
-- ARGV[7]  restore only: the held key's state
-- ARGV[8]  restore only: its createdAt, ms since epoch
-- ARGV[9]  restore only: its retireAfter, ms since epoch, or '' for none
-- Returns  1 when the given key was stored, 2 when ensure promoted the next key instead, 0 when nothing changed.
-- TTLs     none on the hash; keys whose retireAfter has passed are deleted here.
-- Time comes from Redis TIME so every gateway and CLI agrees on it.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local maxTtl = tonumber(ARGV[4])
local mode = ARGV[5]

local function stateOf(record)
  if type(record.state) == 'string' then return record.state end
  if record.current then return 'current' end
  return 'retiring'
end

local function put(kid, record, state)
  record.state = state
  record.current = (state == 'current')
  redis.call('HSET', KEYS[1], kid, cjson.encode(record))
end

local function endAt(entry, state)
  entry.record.retireAfter = now + maxTtl
  put(entry.kid, entry.record, state)
end

local live = {}
local current = {}
local nextKeys = {}
local records = redis.call('HGETALL', KEYS[1])
for i = 1, #records, 2 do
  local record = cjson.decode(records[i + 1])
  local retireAfter = record.retireAfter
  if retireAfter ~= nil and retireAfter ~= cjson.null and tonumber(retireAfter) <= now then
    redis.call('HDEL', KEYS[1], records[i])
  else
    local entry = { kid = records[i], record = record, state = stateOf(record) }
    table.insert(live, entry)
    if entry.state == 'current' then table.insert(current, entry) end
    if entry.state == 'next' then table.insert(nextKeys, entry) end
  end
end

local given = { kid = ARGV[1], alg = ARGV[2], createdAt = now, jwk = ARGV[3] }
local result = 0

if mode == 'ensure' then
  if #current == 0 and #nextKeys > 0 then
    put(nextKeys[1].kid, nextKeys[1].record, 'current')
    result = 2
  elseif #current == 0 then
    put(ARGV[1], given, 'current')
    result = 1
  elseif #nextKeys == 0 then
    put(ARGV[1], given, 'next')
    result = 1
  end
elseif mode == 'rotate' then
  for _, entry in ipairs(current) do endAt(entry, 'retiring') end
  if #nextKeys > 0 then
    put(nextKeys[1].kid, nextKeys[1].record, 'current')
    for i = 2, #nextKeys do endAt(nextKeys[i], 'retiring') end
    put(ARGV[1], given, 'next')
  else
    put(ARGV[1], given, 'current')
  end
  result = 1
elseif mode == 'revoke' then
  for _, entry in ipairs(live) do
    if entry.state ~= 'revoked' then endAt(entry, 'revoked') end
  end
  put(ARGV[1], given, 'current')
  result = 1
elseif mode == 'restore' then
  if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
    local state = ARGV[7]
    given.createdAt = tonumber(ARGV[8])
    if ARGV[9] ~= '' then given.retireAfter = tonumber(ARGV[9]) end
    if state == 'current' and #current > 0 then
      state = 'retiring'
      given.retireAfter = now + maxTtl
    end
    local kept = not (state == 'next' and #nextKeys > 0) and (given.retireAfter == nil or given.retireAfter > now)
    if kept then
      put(ARGV[1], given, state)
      result = 1
    end
  end
end

if result > 0 then redis.call('PUBLISH', ARGV[6], ARGV[1]) end
return result
