-- Extend the lease only while this owner still holds it and its token is the newest.
-- KEYS[1] lease, KEYS[2] fence counter; ARGV[1] owner id, ARGV[2] ttl ms, ARGV[3] token.
if redis.call('GET', KEYS[1]) == ARGV[1] and redis.call('GET', KEYS[2]) == ARGV[3] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
