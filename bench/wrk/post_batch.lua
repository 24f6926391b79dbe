-- POST /api/events/batch/ with the batches bench/run wrote (bench/lib/
-- batches.py), in turn; counts the 2xx answers so bench/run can compare the
-- events acknowledged with the rows that reached the database.
-- Environment: BENCH_TOKEN (admin), BENCH_BATCH_DIR, BENCH_BATCH_COUNT.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

wrk.headers["Content-Type"] = "application/json"

local requests = {}
local next_request = 1

function init(args)
  responses_2xx = 0
  local dir = os.getenv("BENCH_BATCH_DIR")
  local count = tonumber(os.getenv("BENCH_BATCH_COUNT"))
  -- Formatted once: building 1,000 events per request would cost the
  -- client the CPU the server needs.
  for n = 0, count - 1 do
    local file = assert(io.open(string.format("%s/batch-%d.json", dir, n), "rb"))
    local body = file:read("*a")
    file:close()
    requests[#requests + 1] = wrk.format("POST", "/api/events/batch/", nil, body)
  end
  -- Threads start at different batches.
  next_request = ((thread_number or 1) - 1) % #requests + 1
end

function request()
  local r = requests[next_request]
  next_request = next_request % #requests + 1
  return r
end

function response(status, headers, body)
  count_response(status)
end
