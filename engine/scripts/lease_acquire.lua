-- Take a shard's lease if nobody holds it, and hand out the next fencing token.
-- KEYS[1] lease, KEYS[2] fence counter; ARGV[1] owner id, ARGV[2] ttl ms.
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return false
