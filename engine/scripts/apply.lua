-- Apply one batch of an actor's decisions atomically, or nothing at all.
-- KEYS[1] fence counter, KEYS[2] in-flight list, KEYS[3] journal stream, KEYS[4] expiry zset;
-- KEYS[5..] are named by index from the payload. ARGV[1] fencing token, ARGV[2] JSON payload,
-- ARGV[3] how many commands the batch took from the in-flight list.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return {'fenced'}
end
-- Checked before any write: Redis does not undo a script's writes when it fails halfway.
local taken = tonumber(ARGV[3])
if not taken then
  return redis.error_reply('apply: ARGV[3] must be the number of commands taken')
end
local p = cjson.decode(ARGV[2])

-- Verify every seat lock still has the value the actor believes it has, before writing anything.
local diverged = {}
for _, s in ipairs(p.seats) do
  if redis.call('GET', KEYS[s[1]]) ~= s[2] then
    table.insert(diverged, KEYS[s[1]])
  end
end
if #diverged > 0 then
  return {'diverged', diverged}
end

for _, s in ipairs(p.seats) do
  local key, expected, new, px = KEYS[s[1]], s[2], s[3], s[4]
  if new == false then
    redis.call('DEL', key)
  elseif expected == false then
    if px > 0 then
      redis.call('SET', key, new, 'NX', 'PX', px)
    else
      redis.call('SET', key, new, 'NX')
    end
  elseif px > 0 then
    redis.call('SET', key, new, 'PX', px)
  else
    redis.call('SET', key, new)
  end
end

for _, h in ipairs(p.holds) do
  if h[3] > 0 then
    redis.call('SET', KEYS[h[1]], h[2], 'PX', h[3])
  else
    redis.call('SET', KEYS[h[1]], h[2])
  end
end

for _, r in ipairs(p.results) do
  redis.call('SET', KEYS[r[1]], r[2], 'PX', r[3])
end

for _, e in ipairs(p.exp_add) do
  redis.call('ZADD', KEYS[4], e[1], e[2])
end
for _, id in ipairs(p.exp_rem) do
  redis.call('ZREM', KEYS[4], id)
end

local journal_id = false
if p.journal then
  journal_id = redis.call('XADD', KEYS[3], '*', 'e', p.journal)
end

for _, ev in ipairs(p.events) do
  local flat = ev[5]
  -- HSET in slices: Lua's unpack has a small stack.
  for i = 1, #flat, 1000 do
    redis.call('HSET', KEYS[ev[1]], unpack(flat, i, math.min(i + 999, #flat)))
  end
  local seq = redis.call('INCR', KEYS[ev[2]])
  -- ev[4] is the message up to its sequence number, which only this script knows.
  redis.call('SPUBLISH', ev[3], ev[4] .. seq .. ',"changes":' .. ev[6] .. '}')
end

-- Waiting rooms: changed places, then each room's record, published where its progress moved.
for _, q in ipairs(p.places) do
  local flat = q[2]
  for i = 1, #flat, 1000 do
    redis.call('HSET', KEYS[q[1]], unpack(flat, i, math.min(i + 999, #flat)))
  end
end
for _, r in ipairs(p.rooms) do
  redis.call('SET', KEYS[r[1]], r[2])
  if r[3] then
    redis.call('SPUBLISH', r[3], r[2])
  end
end

-- The batch's commands are the oldest (rightmost) entries. A stale owner's BLMOVE can still
-- push one more on the left after the take; it stays in flight for the next turn to decide.
if taken > 0 then
  redis.call('LTRIM', KEYS[2], 0, -taken - 1)
end
return {'ok', journal_id}
