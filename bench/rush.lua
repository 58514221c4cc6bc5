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
    if sent >= share then wrk.thread:stop() end
end

function done(summary, latency, requests)
    local c, f, o = 0, 0, 0
    for _, t in ipairs(threads) do
        c = c + t:get("created"); f = f + t:get("full"); o = o + t:get("other")
    end
    io.write(string.format("rush_answers created=%d conflict=%d other=%d\n", c, f, o))
end
