-- Releases an ACME order lock only if the caller still holds it: a holder whose lease ran out must not
-- delete the lock a second instance took since (compare-and-delete).
-- KEYS[1]  edgeway:{acme}:lock:<domain>   (string: the holder's id, set with SET NX PX <lease ms>)
-- ARGV[1]  the caller's holder id
-- Returns 1 when the lock was released, 0 when another holder (or nobody) has it.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
