-- Rewrite part of a shard's Redis state from the state an actor recovered (fenced).
-- KEYS[1] fence counter; KEYS[2..] named by index from the payload.
-- ARGV[1] token, ARGV[2] JSON: {clear: [ki], locks: [[ki, value|false, px]], holds: [[ki, json]],
--   expiries: [[ki_zset, score, id]], statuses: [[ki_hash, flat...]], resync: [[ki_seq, channel, event_id]]}
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 'fenced'
end
local p = cjson.decode(ARGV[2])
for _, k in ipairs(p.clear) do
  redis.call('DEL', KEYS[k])
end
for _, l in ipairs(p.locks) do
  if l[2] == false then
    redis.call('DEL', KEYS[l[1]])
  elseif l[3] > 0 then
    redis.call('SET', KEYS[l[1]], l[2], 'PX', l[3])
  else
    redis.call('SET', KEYS[l[1]], l[2])
  end
end
for _, h in ipairs(p.holds) do
  redis.call('SET', KEYS[h[1]], h[2])
end
for _, e in ipairs(p.expiries) do
  redis.call('ZADD', KEYS[e[1]], e[2], e[3])
end
for _, s in ipairs(p.statuses) do
  redis.call('DEL', KEYS[s[1]])
  local flat = s[2]
  for i = 1, #flat, 1000 do
    redis.call('HSET', KEYS[s[1]], unpack(flat, i, math.min(i + 999, #flat)))
  end
end
for _, r in ipairs(p.resync) do
  local seq = redis.call('INCR', KEYS[r[1]])
  redis.call('SPUBLISH', r[2], '{"type":"resync","event_id":' .. r[3] .. ',"seq":' .. seq .. '}')
end
return 'ok'
