-- The request side of bench/run.sh: one wrk script for every workload.
--
--   wrk -t1 -cN -dDs -s bench/load.lua URL -- MODE TOKEN ARG FILE TAG
--
-- MODE   get         GET one of the paths in FILE (one per line, picked at random)
--        patch-user  PATCH /Users/<id> replacing `active` (ids in FILE, ARG the base path)
--        patch-group PATCH /Groups/<group><query> adding the users of FILE in order; when
--                    every one has been added, the next pass removes them one by one,
--                    so the group never grows by more than FILE's length
--        post-user   POST <ARG>/Users, a userName unique to TAG and this request
--        bulk        POST <ARG>/Bulk with 1,000 user creates; any operation that did not
--                    answer 2xx counts as an error
-- TOKEN  the bearer token ("-" for none)
-- ARG    the SCIM base path (/scim/v2), or for patch-group "<base>|<group id>|<query>"
-- FILE   a file of paths or ids ("-" for none)
-- TAG    makes userNames unique across runs on the same database
--
-- done() prints one JSON line: requests, duration_us, p50_us, p99_us, max_us, errors.

local mode, token, arg, file, tag
local base, group, query -- patch-group's parts of ARG
local lines = {}
local counter = 0
bad = 0 -- operations inside a 200 /Bulk response that failed; read by done()

local threads = {}
function setup(thread)
    table.insert(threads, thread)
end

local function read_lines(path)
    local out = {}
    for line in io.lines(path) do
        if line ~= "" then
            table.insert(out, line)
        end
    end
    assert(#out > 0, "no lines in " .. path)
    return out
end

local function set_headers()
    -- Added to wrk.headers, which already holds Host.
    wrk.headers["Content-Type"] = "application/scim+json"
    wrk.headers["Accept"] = "application/scim+json"
    if token ~= "-" then
        wrk.headers["Authorization"] = "Bearer " .. token
    end
end

local function user_json(name)
    return '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"' .. name
        .. '@example.com","name":{"givenName":"Load","familyName":"' .. name
        .. '"},"emails":[{"value":"' .. name .. '@example.com","type":"work","primary":true}],"active":true}'
end

function init(args)
    mode, token, arg, file, tag = args[1], args[2], args[3], args[4], args[5]
    math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)"), 16) or 0))
    if file ~= "-" then
        lines = read_lines(file)
    end
    if mode ~= "bulk" then
        response = nil
    end
    if mode == "patch-group" then
        base, group, query = arg:match("^(.*)|(.*)|(.*)$")
    end
    set_headers()
end

function request()
    counter = counter + 1
    if mode == "get" then
        return wrk.format("GET", lines[math.random(#lines)])
    elseif mode == "patch-user" then
        local active = math.random(2) == 1 and "true" or "false"
        return wrk.format("PATCH", arg .. "/Users/" .. lines[math.random(#lines)], nil,
            '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":'
            .. active .. '}}]}')
    elseif mode == "patch-group" then
        local n = #lines
        local pass = math.floor((counter - 1) / n)
        local member = lines[(counter - 1) % n + 1]
        local op
        if pass % 2 == 0 then
            op = '{"op":"add","path":"members","value":[{"value":"' .. member .. '"}]}'
        else
            op = '{"op":"remove","path":"members[value eq \\"' .. member .. '\\"]"}'
        end
        return wrk.format("PATCH", base .. "/Groups/" .. group .. query, nil,
            '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[' .. op .. ']}')
    elseif mode == "post-user" then
        return wrk.format("POST", arg .. "/Users", nil, user_json("load-" .. tag .. "-" .. counter))
    elseif mode == "bulk" then
        local ops = {}
        for i = 1, 1000 do
            local name = "bulk-" .. tag .. "-" .. counter .. "-" .. i
            ops[i] = '{"method":"POST","path":"/Users","bulkId":"b' .. i .. '","data":' .. user_json(name) .. '}'
        end
        return wrk.format("POST", arg .. "/Bulk", nil,
            '{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":['
            .. table.concat(ops, ",") .. ']}')
    end
    error("unknown mode " .. tostring(mode))
end

function response(status, headers, body)
    if status ~= 200 then
        return -- wrk counts the status itself
    end
    local ok = 0
    for code in body:gmatch('"status"%s*:%s*"?(%d+)') do
        if code:sub(1, 1) == "2" then
            ok = ok + 1
        end
    end
    bad = bad + (1000 - ok)
end

function done(summary, latency, requests)
    local failed = 0
    for _, t in ipairs(threads) do
        failed = failed + (t:get("bad") or 0)
    end
    local e = summary.errors
    io.write(string.format(
        '{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,'
        .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"bulk_ops":%d}}\n',
        summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
        e.connect, e.read, e.write, e.status, e.timeout, failed))
end
