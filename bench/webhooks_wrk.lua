-- wrk script for bench/webhooks.py: send each pre-signed request exactly once, then stop.
--
--   wrk -t T -c C -d MAX -s webhooks_wrk.lua URL -- requests.bin lengths.txt T
--
-- requests.bin holds complete raw HTTP requests back to back, lengths.txt their sizes (one
-- per line). Thread k sends requests k, k+T, k+2T, ... as they are, so wrk does no
-- formatting. A connection that finds its thread's list empty gets an empty request: it
-- writes nothing and idles (no busy loop at the tail). When a thread has every delivery
-- answered it prints "thread-done" and stops; the bench then interrupts wrk (SIGINT ends
-- wrk's duration sleep) so done() runs at once. Times come from clock_gettime through
-- LuaJIT's ffi: wrk itself only knows the whole -d duration.
--
-- wrk calls request() once on the first thread's state, from the main OS thread, to check
-- that it returns a valid request; that call must not use up a delivery, so calls from
-- the OS thread that ran init() return the first request without advancing.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
unsigned long pthread_self(void);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("bench_timespec")
local function now()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  local nthreads = tonumber(args[3])
  local file = assert(io.open(args[1], "rb"))
  local data = file:read("*a")
  file:close()
  reqs = {}
  local pos, i = 1, 0
  for line in io.lines(args[2]) do
    local n = tonumber(line)
    if i % nthreads == id - 1 then
      reqs[#reqs + 1] = data:sub(pos, pos + n - 1)
    end
    pos, i = pos + n, i + 1
  end
  data = nil
  nextreq, answered, non200, processed, duplicate = 1, 0, 0, 0, 0
  first, last = 0, 0
  init_os_thread = ffi.C.pthread_self()
  if #reqs == 0 then
    io.stdout:write("thread-done\n")
    io.stdout:flush()
  end
end

function request()
  if ffi.C.pthread_self() == init_os_thread then
    return reqs[1] or wrk.format("GET", "/healthz") -- wrk's check, not a delivery
  end
  if nextreq > #reqs then
    return ""
  end
  if nextreq == 1 then
    first = now()
  end
  local r = reqs[nextreq]
  nextreq = nextreq + 1
  return r
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
  elseif body:find('"outcome":"processed"', 1, true) then
    processed = processed + 1
  elseif body:find('"outcome":"duplicate"', 1, true) then
    duplicate = duplicate + 1
  else
    non200 = non200 + 1 -- a 200 "failed" outcome is a failure for the benchmark
  end
  answered = answered + 1
  if answered == #reqs then
    last = now()
    io.stdout:write("thread-done\n")
    io.stdout:flush()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local first_all, last_all = nil, 0
  local totals = { answered = 0, non200 = 0, processed = 0, duplicate = 0 }
  for _, t in ipairs(threads) do
    for k, _ in pairs(totals) do
      totals[k] = totals[k] + (t:get(k) or 0)
    end
    local f, l = t:get("first"), t:get("last")
    if f and f > 0 and (first_all == nil or f < first_all) then
      first_all = f
    end
    if l and l > last_all then
      last_all = l
    end
  end
  io.stdout:write(string.format(
    "wrk-result answered=%d non200=%d processed=%d duplicate=%d elapsed=%.6f "
      .. "p50_us=%d p99_us=%d max_us=%d socket_errors=%d\n",
    totals.answered, totals.non200, totals.processed, totals.duplicate,
    last_all - (first_all or last_all),
    latency:percentile(50), latency:percentile(99), latency.max,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout
  ))
  io.stdout:flush()
end
