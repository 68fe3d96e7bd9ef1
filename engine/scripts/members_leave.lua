-- Take one engine out of the membership at once, so the others start taking its shards.
-- KEYS[1] members, KEYS[2] version counter; ARGV[1] member id.
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  return redis.call('INCR', KEYS[2])
end
return 0
