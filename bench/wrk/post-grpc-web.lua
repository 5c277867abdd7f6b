-- wrk script for gRPC-Web over HTTP/1.1: like post.lua, and also reads each
-- answer, since a failed gRPC-Web call is still HTTP 200. An answer counts as
-- bad unless its grpc-status is 0: from the trailer frame at the end of the
-- body, or from the headers of a trailers-only answer. A text-mode answer
-- (application/grpc-web-text) is base64: its last groups, which hold the
-- trailer frame, are decoded first.
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

local B64 = {}
for i = 1, 64 do B64[string.byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", i)] = i - 1 end

-- The bytes of base64 text s (whole 4-character groups, padded or not).
local function unbase64(s)
  local out = {}
  for i = 1, #s - 3, 4 do
    local a, b, c, d = B64[s:byte(i)] or 0, B64[s:byte(i + 1)] or 0, s:byte(i + 2), s:byte(i + 3)
    local n = a * 262144 + b * 4096 + (B64[c] or 0) * 64 + (B64[d] or 0)
    out[#out + 1] = string.char(math.floor(n / 65536) % 256)
    if c ~= 61 then out[#out + 1] = string.char(math.floor(n / 256) % 256) end
    if d ~= 61 then out[#out + 1] = string.char(n % 256) end
  end
  return table.concat(out)
end

function response(status, headers, body)
  local ok = headers["grpc-status"] == "0" or headers["Grpc-Status"] == "0"
  local ct = headers["content-type"] or headers["Content-Type"] or ""
  if not ok and body ~= nil and string.find(ct, "grpc-web-text", 1, true) then
    -- The trailer frame is the last 21 bytes: the last 40 characters (4-aligned) cover it.
    body = unbase64(string.sub(body, math.max(1, #body - 39)))
  end
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
