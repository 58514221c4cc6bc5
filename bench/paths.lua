-- Cycles through the request paths of the file RG_PATHS (one per line),
-- each wrk thread from its own place in the list, and prints one
-- machine-readable line at the end.
local counter = 0

function setup(thread)
    thread:set("tid", counter)
    counter = counter + 1
end

function init(args)
    paths = {}
    for line in io.lines(os.getenv("RG_PATHS")) do
        if #line > 0 then paths[#paths + 1] = line end
    end
    at = (tid * 7919) % #paths + 1
end

function request()
    local p = paths[at]
    at = at % #paths + 1
    return wrk.format("GET", p)
end

function done(summary, latency, requests)
    local secs = summary.duration / 1e6
    io.write(string.format(
        "wrk_result requests=%d seconds=%.2f rps=%.0f p50_ms=%.2f p99_ms=%.2f p999_ms=%.2f errors=%d non2xx=%d\n",
        summary.requests, secs, summary.requests / secs,
        latency:percentile(50) / 1000, latency:percentile(99) / 1000,
        latency:percentile(99.9) / 1000,
        summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
        summary.errors.status))
end
