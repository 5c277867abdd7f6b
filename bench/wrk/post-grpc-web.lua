-- wrk script for gRPC-Web over HTTP/1.1: like post.lua, and also reads each
-- answer, since a failed gRPC-Web call is still HTTP 200. An answer counts as
-- bad unless its grpc-status is 0: from the trailer frame at the end of the
-- body, or from the headers of a trailers-only answer.
--   wrk ... -s bench/wrk/post-grpc-web.lua <url> -- <body-file> ['Name: value' ...]
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local prepared
bad = 0

function init(args)
  local f = assert(io.open(args[1], "rb"))
  wrk.method = "POST"
  wrk.body = f:read("*a")
  f:close()
  for i = 2, #args do
    local name, value = string.match(args[i], "^([^:]+):%s*(.*)$")
    wrk.headers[name] = value
  end
  prepared = wrk.format()
end

function request()
  return prepared
end

function response(status, headers, body)
  local ok = headers["grpc-status"] == "0" or headers["Grpc-Status"] == "0"
  if not ok and body ~= nil then
    ok = string.find(body, "grpc-status:0", 1, true) ~= nil or string.find(body, "grpc-status: 0", 1, true) ~= nil
  end
  if status ~= 200 or not ok then bad = bad + 1 end
end

function done(summary, latency, requests)
  local total_bad = 0
  for _, thread in ipairs(threads) do total_bad = total_bad + (thread:get("bad") or 0) end
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"max":%d,"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"p999":%d},"bad_grpc_status":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.max, latency.mean,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), total_bad))
end
