-- Take a shard's lease if nobody holds it, and hand out the next fencing token; but only to an
-- engine that runs the deployment's shard count, or two actors could own one event.
-- KEYS[1] lease, KEYS[2] fence counter, KEYS[3] the shard's copy of the shard count;
-- ARGV[1] owner id, ARGV[2] ttl ms, ARGV[3] the caller's shard count.
-- Returns the token (an integer); false while someone else holds the lease; the stored count
-- (a string) when it differs from the caller's, whoever holds the lease.
local stored = redis.call('GET', KEYS[3])
if stored and stored ~= ARGV[3] then
  return stored
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  if not stored then
    -- No copy yet (a fresh or wiped Redis): the first engine's count is the deployment's.
    redis.call('SET', KEYS[3], ARGV[3])
  end
  return redis.call('INCR', KEYS[2])
end
return false
