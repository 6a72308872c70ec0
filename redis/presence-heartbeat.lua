-- Records a gateway's heartbeat and counts the gateways alive, in one atomic step.
-- KEYS[1] edgeway:{presence}  zset  gateway id -> ms since epoch of its last heartbeat (Redis TIME)
-- ARGV[1] id        this gateway's id, a non-empty string
-- ARGV[2] windowMs  ms, a positive integer: a gateway unseen for longer is no longer counted
-- Returns the number of gateways seen within windowMs, this one included (at least 1).
-- Members older than the window are removed here; TTL: PEXPIRE windowMs, so the key goes away once
-- every gateway has stopped heart-beating.
local id = ARGV[1]
local window = tonumber(ARGV[2])
if not id or id == '' or not window or window < 1 then
  return redis.error_reply('ERR presence: id must be non-empty and windowMs a positive integer')
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZADD', KEYS[1], now, id)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - window))
redis.call('PEXPIRE', KEYS[1], window)
return redis.call('ZCARD', KEYS[1])
