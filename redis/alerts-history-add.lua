-- Appends one alert state change to the fleet's alert history (only the gateway that announced the
-- change appends, so each change is listed once however many gateways evaluate the rule).
-- KEYS[1]  edgeway:{alerts}:history   (list, newest first)
-- ARGV[1]  the change as JSON: {rule, kind, subject, state, at, since, value, threshold}
-- ARGV[2]  entries kept
-- ARGV[3]  retention of the list after its last change, milliseconds
-- Returns the list's length after trimming.
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return redis.call('LLEN', KEYS[1])
