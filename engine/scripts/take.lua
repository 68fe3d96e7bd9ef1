-- Move up to ARGV[1] commands from the queue to the in-flight list and return the whole
-- in-flight list (newest first). Commands stay in flight until the batch that decides them is
-- applied, so a crash between taking and applying loses nothing.
-- KEYS[1] command queue, KEYS[2] in-flight list.
local n = tonumber(ARGV[1])
for _ = 1, n do
  if not redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT') then
    break
  end
end
return redis.call('LRANGE', KEYS[2], 0, -1)
