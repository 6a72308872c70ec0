-- Takes tokens from one token bucket in one atomic step (mirrors src/traffic/rate-limit/token-bucket.ts).
-- KEYS[1] edgeway:{rl:<route>:<key>}  hash  tokens -> fractional tokens left, at -> ms since epoch (Redis TIME)
-- ARGV[1] capacity         tokens, a positive number (the burst)
-- ARGV[2] refillPerSecond  tokens per second, a positive number (continuous refill)
-- ARGV[3] cost             tokens this request takes, a positive number
-- Returns {allowed, remaining, retryAfterMs, resetMs}: allowed 1 or 0; remaining whole tokens left;
-- retryAfterMs until `cost` tokens are there again (0 when they are); resetMs until the bucket is full.
-- TTL: PEXPIRE resetMs, so the key disappears once the bucket would be full again (a missing key is a
-- full bucket); a decision that leaves the bucket full deletes the key.
-- Time comes from Redis TIME so gateways with skewed clocks still share one rate.
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
if not capacity or capacity <= 0 or not rate or rate <= 0 or not cost or cost <= 0 then
  return redis.error_reply('ERR token-bucket: capacity, refillPerSecond and cost must be positive numbers')
end

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local perMs = rate / 1000

local saved = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = capacity
if saved[1] and saved[2] then
  local elapsed = math.max(0, now - tonumber(saved[2]))
  tokens = math.min(capacity, tonumber(saved[1]) + elapsed * perMs)
end

local allowed = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
end

local missing = math.min(cost, capacity) - tokens
local retryAfter = 0
if missing > 0 then retryAfter = math.ceil(missing / perMs) end
local reset = math.ceil((capacity - tokens) / perMs)

if reset > 0 then
  -- %.17g keeps the fractional tokens exact across the string round trip.
  redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at', string.format('%.17g', now))
  redis.call('PEXPIRE', KEYS[1], reset)
else
  redis.call('DEL', KEYS[1])
end
return {allowed, math.floor(tokens), retryAfter, reset}
