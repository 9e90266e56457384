-- wrk script of bench/jobs_api: counts answers by status (and idempotent replays), and for
-- submissions sends the body with no key, a fresh key per request, or keys from a small
-- pool (so most requests replay one). Usage:
--   wrk ... -s load.lua URL -- get
--   wrk ... -s load.lua URL -- post BODY_FILE none|unique|pool TAG POOL_SIZE
-- done() prints one line "WRK_JSON {...}" that bench/jobs_api/wrk.py parses.

local threads = {}

function setup(thread)
  thread:set("thread_no", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
  replayed = 0
  sent = 0
  mode = args[1] or "get"
  if mode == "post" then
    local f = assert(io.open(args[2], "rb"))
    wrk.method = "POST"
    wrk.body = f:read("*a")
    f:close()
    wrk.headers["Content-Type"] = "application/json"
    keys = args[3] or "none"
    tag = args[4] or "run"
    pool = tonumber(args[5] or "100")
  end
end

function request()
  if mode ~= "post" or keys == "none" then
    return wrk.request()
  end
  sent = sent + 1
  local n = sent
  if keys == "pool" then
    n = (sent - 1) % pool + 1
  end
  local headers = {}
  for k, v in pairs(wrk.headers) do
    headers[k] = v
  end
  headers["Idempotency-Key"] = tag .. "-" .. thread_no .. "-" .. n
  return wrk.format(nil, nil, headers)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if headers["Idempotent-Replayed"] or headers["idempotent-replayed"] then
    replayed = replayed + 1
  end
end

function done(summary, latency, requests)
  local counts = {}
  local replays = 0
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("statuses")) do
      counts[status] = (counts[status] or 0) + n
    end
    replays = replays + t:get("replayed")
  end
  local parts = {}
  for status, n in pairs(counts) do
    table.insert(parts, string.format('"%d": %d', status, n))
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, '
      .. '"p99_us": %d, "max_us": %d, "socket_errors": %d, "replayed": %d, '
      .. '"statuses": {%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect + e.read + e.write + e.timeout, replays,
    table.concat(parts, ", ")))
end
