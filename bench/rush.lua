-- Registration rush: every request registers a different person (one access
-- token each from RG_TOKENS) for the same event. Each thread sends its share
-- of the tokens once and then stops.
local counter = 0
local threads = {}

function setup(thread)
    thread:set("tid", counter)
    counter = counter + 1
    table.insert(threads, thread)
end

local function now_ms()
    local f = io.popen("date +%s%3N")
    local v = tonumber(f:read("*l"))
    f:close()
    return v
end

function init(args)
    tokens = {}
    for line in io.lines(os.getenv("RG_TOKENS")) do
        local _, tok = line:match("(%S+) (%S+)")
        if tok then tokens[#tokens + 1] = tok end
    end
    nthreads = tonumber(os.getenv("RG_WRK_THREADS"))
    path = os.getenv("RG_RUSH_PATH")
    idx = tid + 1
    sent = 0
    share = 0
    for i = tid + 1, #tokens, nthreads do share = share + 1 end
    created, full, other = 0, 0, 0
    t_start = now_ms()
    t_end = t_start
end

function request()
    local tok = tokens[idx] or tokens[#tokens]
    idx = idx + nthreads
    return wrk.format("POST", path, { ["Authorization"] = "Bearer " .. tok }, nil)
end

function response(status, headers, body)
    if status == 201 then created = created + 1
    elseif status == 409 then full = full + 1
    else other = other + 1 end
    sent = sent + 1
    if sent >= share then
        t_end = now_ms()
        wrk.thread:stop()
        -- wrk waits out its -d before it reports; this file tells run.sh
        -- that the thread is done, and run.sh interrupts wrk.
        local done = os.getenv("RG_RUSH_DONE")
        if done then io.open(done .. tid, "w"):close() end
    end
end

function done(summary, latency, requests)
    local c, f, o, t0, t1 = 0, 0, 0, nil, nil
    for _, t in ipairs(threads) do
        c = c + t:get("created"); f = f + t:get("full"); o = o + t:get("other")
        local s, e = t:get("t_start"), t:get("t_end")
        if not t0 or s < t0 then t0 = s end
        if not t1 or e > t1 then t1 = e end
    end
    local secs = (t1 - t0) / 1000
    io.write(string.format("rush_answers created=%d conflict=%d other=%d\n", c, f, o))
    io.write(string.format(
        "rush_result requests=%d seconds=%.3f rps=%.0f p50_ms=%.2f p99_ms=%.2f p999_ms=%.2f\n",
        c + f + o, secs, (c + f + o) / secs, latency:percentile(50) / 1000,
        latency:percentile(99) / 1000, latency:percentile(99.9) / 1000))
end
