-- Renew one engine's membership, drop members whose heartbeat lapsed, and return the live ones.
-- Expiries are the Redis server's own clock, so the engines' clocks never have to agree.
-- KEYS[1] members (sorted set: member id -> expiry ms), KEYS[2] version counter;
-- ARGV[1] member id, ARGV[2] ttl ms.
-- Returns {version, member ids}; the version rises whenever the member list changes.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local changed = redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
changed = changed + redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
local version
if changed > 0 then
  version = redis.call('INCR', KEYS[2])
else
  version = tonumber(redis.call('GET', KEYS[2]) or '0')
end
return {version, redis.call('ZRANGE', KEYS[1], 0, -1)}
