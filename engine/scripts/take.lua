-- Move up to ARGV[1] commands from the queue to the in-flight list and return {'ok', the whole
-- in-flight list (newest first)}, or {'fenced'} and move nothing if ARGV[2] is not the current
-- fencing token: an owner that lost its lease must not pull commands into a list whose oldest
-- entries the new owner's apply is about to remove. Commands stay in flight until the batch
-- that decides them is applied, so a crash between taking and applying loses nothing.
-- KEYS[1] command queue, KEYS[2] in-flight list, KEYS[3] fence counter.
if redis.call('GET', KEYS[3]) ~= ARGV[2] then
  return {'fenced'}
end
local n = tonumber(ARGV[1])
for _ = 1, n do
  if not redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT') then
    break
  end
end
return {'ok', redis.call('LRANGE', KEYS[2], 0, -1)}
