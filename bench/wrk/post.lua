-- wrk script: POST one fixed body with fixed headers on every request, and
-- print the run's numbers as one JSON line ("WRK_RESULT {...}") from done().
--   wrk ... -s bench/wrk/post.lua <url> -- <body-file> ['Name: value' ...]
-- Latencies are in microseconds. errors.status counts answers with HTTP
-- status >= 400 (wrk's own rule).
local body_of = function(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("*a")
  f:close()
  return data
end

local prepared

function init(args)
  wrk.method = "POST"
  wrk.body = body_of(args[1])
  for i = 2, #args do
    local name, value = string.match(args[i], "^([^:]+):%s*(.*)$")
    wrk.headers[name] = value
  end
  prepared = wrk.format()
end

function request()
  return prepared
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"max":%d,"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"p999":%d},"bad_grpc_status":0}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.max, latency.mean,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9)))
end
