-- Write a new shard count into one shard's copy, only while the shard is quiet: no lease (no
-- engine owns it) and no command queued, in flight or journalled under the old routing.
-- KEYS[1] the shard's copy of the shard count, KEYS[2] lease, KEYS[3] commands, KEYS[4] inflight,
-- KEYS[5] journal; ARGV[1] the new count, ARGV[2] 'check' to look without writing.
-- Returns false once written (or found quiet), or what keeps the shard busy.
if redis.call('EXISTS', KEYS[2]) == 1 then
  return 'its lease is held'
end
if redis.call('LLEN', KEYS[3]) > 0 then
  return 'commands are queued'
end
if redis.call('LLEN', KEYS[4]) > 0 then
  return 'commands are inflight'
end
if redis.call('XLEN', KEYS[5]) > 0 then
  return 'its journal is not yet written to MariaDB'
end
if ARGV[2] ~= 'check' then
  redis.call('SET', KEYS[1], ARGV[1])
end
return false
