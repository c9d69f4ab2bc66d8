-- wrk-report.lua: machine-readable summary for bench/run.
--
-- Only done() is defined, so wrk keeps its static-request fast path (no Lua per request).
-- Prints one line starting with WRKREPORT, key=value pairs, latencies in microseconds:
--   requests, duration_us, rps, p50_us p90_us p99_us p999_us max_us mean_us,
--   err_connect err_read err_write err_status err_timeout
-- err_status is wrk's count of answers with status >= 400 ("Non-2xx or 3xx responses").

done = function(summary, latency, requests)
    local e = summary.errors
    local secs = summary.duration / 1e6
    local rps = 0
    if secs > 0 then
        rps = summary.requests / secs
    end
    io.write(string.format(
        "WRKREPORT requests=%d duration_us=%d rps=%.1f bytes=%d" ..
        " p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d mean_us=%.1f" ..
        " err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
        summary.requests, summary.duration, rps, summary.bytes,
        latency:percentile(50), latency:percentile(90), latency:percentile(99),
        latency:percentile(99.9), latency.max, latency.mean,
        e.connect, e.read, e.write, e.status, e.timeout))
end
