-- Compare-and-set of an alert rule's shared state, so that across all gateways each episode sends
-- exactly one "firing" and one "resolved" notification: only the caller that changes the state sends.
-- KEYS[1]  edgeway:{alerts}:<rule name>   (hash: state, since)
-- ARGV[1]  the new state: "firing" or "resolved"
-- ARGV[2]  retention of the state hash, milliseconds (refreshed on every change)
-- Returns {1, since_ms} when this call changed the state (the caller notifies), {0, since_ms} when the
-- state already was ARGV[1]. A missing key counts as "resolved". since_ms is from Redis TIME.
local current = redis.call('HGET', KEYS[1], 'state') or 'resolved'
if current == ARGV[1] then
  return {0, tonumber(redis.call('HGET', KEYS[1], 'since') or '0')}
end
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'since', now_ms)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, now_ms}
