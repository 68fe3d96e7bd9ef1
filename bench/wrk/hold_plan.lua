-- wrk script for bench/holdrush.py: every request is the next entry of a prepared plan of
-- single-seat holds (a buyer's bearer token and a seat), with an Idempotency-Key of its own.
--
--   wrk -t T -c C -d Ns -s bench/wrk/hold_plan.lua http://127.0.0.1:PORT -- PLAN EVENT T RATE
--
-- PLAN: one "token<TAB>seat" line per hold. Thread k of T takes entries k+1, k+1+T, ... and,
-- once its share is used up, replays it from its start with fresh keys ("-r2", "-r3", ...): those
-- holds are new decisions for the engine, refused since their seats are already held.
--
-- RATE 0: closed loop (each connection sends its next request when the last one is answered).
-- RATE > 0: requests per second over all threads, on a fixed schedule (slot k of a thread at
-- t0 + k * T / RATE). wrk asks delay() before each request of a connection; the connection
-- claims the next slot and waits for it. It is open loop only while a connection is free at
-- every slot: when all are waiting for answers the slot is sent late, and the lag (send time
-- minus slot) is counted here, because wrk times a request from when it is written, not from
-- its slot. done() prints one line, "WRK_JSON {...}", that bench/holdrush.py reads.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } rq_timespec;
  int clock_gettime(int clock_id, rq_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local now_ts = ffi.new("rq_timespec")

local function now_s()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, now_ts)
  return tonumber(now_ts.tv_sec) + tonumber(now_ts.tv_nsec) * 1e-9
end

-- Per thread (each wrk thread runs its own copy of this script), as plain numbers: done() reads
-- them with thread:get(), which cannot copy nested tables. Answers by status: status_201, ...;
-- send lag in 1 ms buckets lag_0 .. lag_999 and lag_over (1 s or more).
rounds = 1
entries = 0
lag_count, lag_sum_ms, lag_max_ms = 0, 0, 0
local LAG_BUCKETS = 1000

local heads, bodies = {}, {}
local cursor, event, rate = 1, "0", 0
local t0, claimed = nil, 0
local slots, first_slot, next_slot = {}, 1, 1

-- Main state only: the threads, so that done() can read their counts.
local threads = {}

function setup(thread)
  thread:set("index", #threads)
  table.insert(threads, thread)
end

function init(args)
  local plan_path = args[1]
  event = args[2]
  local thread_count = tonumber(args[3])
  rate = tonumber(args[4]) / thread_count
  local host = wrk.host .. ":" .. tostring(wrk.port)
  local path = "/api/v1/events/" .. event .. "/holds"
  local line_number = 0
  for line in io.lines(plan_path) do
    if line_number % thread_count == index then
      local token, seat = line:match("^(%S+)\t(%d+)$")
      local body = '{"seat_ids":[' .. seat .. "]}"
      table.insert(heads,
        "POST " .. path .. " HTTP/1.1\r\nHost: " .. host ..
        "\r\nAuthorization: Bearer " .. token ..
        "\r\nContent-Type: application/json\r\nContent-Length: " .. #body ..
        "\r\nIdempotency-Key: hp-" .. event .. "-" .. line_number)
      table.insert(bodies, body)
    end
    line_number = line_number + 1
  end
  entries = #heads
  if rate <= 0 then
    delay = nil -- closed loop: wrk sends as soon as a connection is free
  end
end

function delay()
  local now = now_s()
  if t0 == nil then
    t0 = now
  end
  local slot = t0 + claimed / rate
  claimed = claimed + 1
  slots[next_slot] = slot
  next_slot = next_slot + 1
  local wait_ms = (slot - now) * 1000
  if wait_ms < 0 then
    return 0
  end
  return math.floor(wait_ms)
end

local function count_lag()
  -- Slots are claimed and their timers fire in the same order, so the oldest claimed slot is
  -- the one this request was waiting for.
  local slot = slots[first_slot]
  if slot == nil then
    return
  end
  slots[first_slot] = nil
  first_slot = first_slot + 1
  local late_ms = (now_s() - slot) * 1000
  if late_ms < 0 then
    late_ms = 0
  end
  lag_count = lag_count + 1
  lag_sum_ms = lag_sum_ms + late_ms
  if late_ms > lag_max_ms then
    lag_max_ms = late_ms
  end
  local bucket = late_ms < LAG_BUCKETS and "lag_" .. math.floor(late_ms) or "lag_over"
  _G[bucket] = (_G[bucket] or 0) + 1
end

function request()
  if rate > 0 then
    count_lag()
  end
  local i, round = cursor, rounds
  cursor = cursor + 1
  if cursor > entries then
    cursor = 1
    rounds = rounds + 1
  end
  local key_suffix = round == 1 and "" or ("-r" .. round)
  return heads[i] .. key_suffix .. "\r\n\r\n" .. bodies[i]
end

function response(status, headers, body)
  local key = "status_" .. status
  _G[key] = (_G[key] or 0) + 1
end

local function json_object(map)
  local parts = {}
  for key, value in pairs(map) do
    local text
    if type(value) == "table" then
      text = json_object(value)
    else
      text = string.format("%.17g", value)
    end
    table.insert(parts, string.format("%q:%s", tostring(key), text))
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
  local merged_statuses = {}
  local merged_lag = { count = 0, sum_ms = 0, max_ms = 0, histogram = {} }
  local replays = 0
  local plan_entries = 0
  local function add(map, key, n)
    if n ~= nil then
      map[key] = (map[key] or 0) + n
    end
  end
  for _, thread in ipairs(threads) do
    for status = 100, 599 do
      add(merged_statuses, tostring(status), thread:get("status_" .. status))
    end
    merged_lag.count = merged_lag.count + thread:get("lag_count")
    merged_lag.sum_ms = merged_lag.sum_ms + thread:get("lag_sum_ms")
    merged_lag.max_ms = math.max(merged_lag.max_ms, thread:get("lag_max_ms"))
    for bucket = 0, LAG_BUCKETS - 1 do
      add(merged_lag.histogram, tostring(bucket), thread:get("lag_" .. bucket))
    end
    add(merged_lag.histogram, "over", thread:get("lag_over"))
    replays = math.max(replays, thread:get("rounds") - 1)
    plan_entries = plan_entries + thread:get("entries")
  end
  local errors = summary.errors
  local report = {
    duration_us = summary.duration,
    requests = summary.requests,
    bytes = summary.bytes,
    errors = {
      connect = errors.connect,
      read = errors.read,
      write = errors.write,
      timeout = errors.timeout,
      status = errors.status,
    },
    latency_us = {
      min = latency.min,
      mean = latency.mean,
      max = latency.max,
      p50 = latency:percentile(50),
      p90 = latency:percentile(90),
      p99 = latency:percentile(99),
      p999 = latency:percentile(99.9),
    },
    statuses = merged_statuses,
    send_lag = merged_lag,
    replays = replays,
    plan_entries = plan_entries,
  }
  io.write("WRK_JSON " .. json_object(report) .. "\n")
end
