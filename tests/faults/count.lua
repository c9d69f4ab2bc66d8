-- tests/faults/count.lua - a wrk script that counts responses by status and prints, at the
-- end, one JSON line: {"statuses": {"200": n, ...}, "errors": {connect, read, write,
-- timeout}, "requests": n}. The request's Host header comes from wrk's -H.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local all = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for code, n in pairs(s) do
      all[code] = (all[code] or 0) + n
    end
  end
  local parts = {}
  for code, n in pairs(all) do
    table.insert(parts, string.format('"%d": %d', code, n))
  end
  local e = summary.errors
  io.write(string.format(
    '{"statuses": {%s}, "errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, ' ..
    '"requests": %d, "p99_ms": %.2f}\n',
    table.concat(parts, ", "), e.connect, e.read, e.write, e.timeout, summary.requests,
    latency:percentile(99) / 1000))
end
