-- Settles one gateway's lease on a token bucket and takes a new one, in one atomic step (README "Token leases").
-- KEYS[1] edgeway:{rl:<route>:<key>}  hash
--   tokens      fractional tokens left in the shared bucket
--   at          ms since epoch (Redis TIME) when `tokens` was computed
--   l:<holder>  "<outstanding>:<expiresAtMs>": tokens a holder took and may still spend locally
-- ARGV[1] capacity         tokens, a positive number (the burst)
-- ARGV[2] refillPerSecond  tokens per second, a positive number (continuous refill)
-- ARGV[3] cost             tokens the first waiting request needs; 0 settles only (nothing is taken)
-- ARGV[4] want             tokens to take (>= cost): the batch the holder will spend locally
-- ARGV[5] spendNow         tokens the holder spends as soon as the reply arrives (not outstanding)
-- ARGV[6] giveBack         unspent tokens of the holder's previous lease, handed back
-- ARGV[7] leaseMs          how long the holder may spend the new lease
-- ARGV[8] holder           the holder's id
-- Returns {granted, remaining, retryAfterMs, resetMs}: granted is 0 (denied), or between cost and want;
-- remaining whole tokens left in the shared bucket; retryAfterMs until `cost` tokens are there again;
-- resetMs until the bucket is full once every lease has ended.
-- Outstanding leases lower the bucket's ceiling (tokens <= capacity - outstanding), so tokens held by a
-- gateway and tokens in Redis never add up to more than capacity. An expired lease is dropped: its tokens
-- count as spent (the holder stopped spending it before Redis' expiry), and its ceiling is lifted.
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local want = tonumber(ARGV[4])
local spendNow = tonumber(ARGV[5])
local giveBack = tonumber(ARGV[6])
local leaseMs = tonumber(ARGV[7])
local holder = 'l:' .. ARGV[8]
if not capacity or capacity <= 0 or not rate or rate <= 0 or not cost or cost < 0 or not want or want < cost
  or not spendNow or spendNow < 0 or not giveBack or giveBack < 0 or not leaseMs or leaseMs < 0 then
  return redis.error_reply('ERR token-lease: invalid arguments')
end

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local perMs = rate / 1000

local fields = redis.call('HGETALL', KEYS[1])
local tokens = nil
local at = now
local others = 0
local own = 0
local lastExpiry = now
local expired = {}
for i = 1, #fields, 2 do
  local name = fields[i]
  local value = fields[i + 1]
  if name == 'tokens' then
    tokens = tonumber(value)
  elseif name == 'at' then
    at = tonumber(value)
  else
    local sep = string.find(value, ':', 1, true)
    local amount = tonumber(string.sub(value, 1, sep - 1))
    local expiresAt = tonumber(string.sub(value, sep + 1))
    if expiresAt <= now then
      table.insert(expired, name)
    elseif name == holder then
      own = amount
    else
      others = others + amount
      if expiresAt > lastExpiry then lastExpiry = expiresAt end
    end
  end
end
if #expired > 0 then redis.call('HDEL', KEYS[1], unpack(expired)) end

if tokens == nil then
  tokens = capacity - others - own
else
  -- Refill up to the ceiling the leases left; never lower tokens a lifted ceiling let in before.
  local ceiling = capacity - others - own
  local refilled = tokens + math.max(0, now - at) * perMs
  if refilled > ceiling then refilled = ceiling end
  if refilled > tokens then tokens = refilled end
end

-- The holder's previous lease ends here: its unspent tokens come back, up to the ceiling of the others.
tokens = math.min(capacity - others, tokens + giveBack)
if tokens < 0 then tokens = 0 end

local granted = 0
if cost > 0 and cost <= capacity - others and tokens >= cost then
  granted = want
  if tokens < want then granted = math.max(cost, math.floor(tokens)) end
  tokens = tokens - granted
end

local outstanding = granted - math.min(granted, spendNow)
if outstanding > 0 then
  redis.call('HSET', KEYS[1], holder, string.format('%.17g', outstanding) .. ':' .. string.format('%.17g', now + leaseMs))
  if now + leaseMs > lastExpiry then lastExpiry = now + leaseMs end
else
  redis.call('HDEL', KEYS[1], holder)
  outstanding = 0
end

local retryAfter = 0
local missing = math.min(cost, capacity) - tokens
if granted == 0 and missing > 0 then retryAfter = math.ceil(missing / perMs) end
-- Full at the latest once every lease has ended and the refill caught up: the key may go then.
local keep = math.ceil((lastExpiry - now) + (capacity - tokens) / perMs)

if keep > 0 then
  -- %.17g keeps the fractional tokens exact across the string round trip.
  redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at', string.format('%.17g', now))
  redis.call('PEXPIRE', KEYS[1], keep)
else
  redis.call('DEL', KEYS[1])
end
return {granted, math.floor(tokens), retryAfter, math.ceil((capacity - tokens) / perMs)}
