-- Shared by every bench/wrk script (each loads it with dofile): the bearer
-- token from the environment, so it never appears on a command line, and a
-- done() that prints one line, "BENCH_RESULT {json}", for bench/run to read.
--
-- Environment: BENCH_TOKEN (optional) - an access token to send.

local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
wrk.headers["Accept"] = "application/json"

-- Scripts that define response() count their 2xx answers in this global of
-- their thread's Lua state; done() sums them. Scripts that do not leave it
-- nil: a response() callback costs wrk throughput, so plain GETs go without.
responses_2xx = nil

function count_response(status)
  if status >= 200 and status < 300 then
    responses_2xx = responses_2xx + 1
  end
end

-- setup() runs in the main Lua state once per thread; keep the threads so
-- done() can read their counters, and give each its own random seed.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_number", #threads)
end

function seed_random()
  -- thread_number is set by setup() before init() runs in the thread.
  math.randomseed(os.time() * 100 + (thread_number or 0))
end

local function sum_of_threads(name)
  local total = nil
  for _, thread in ipairs(threads) do
    local value = thread:get(name)
    if value ~= nil then
      total = (total or 0) + value
    end
  end
  return total
end

local function json_number(value, format)
  if value == nil then
    return "null"
  end
  return string.format(format, value)
end

function done(summary, latency, requests)
  local errors = summary.errors
  local seconds = summary.duration / 1e6
  local fields = {
    { "requests", json_number(summary.requests, "%d") },
    { "duration_s", json_number(seconds, "%.3f") },
    { "rps", json_number(summary.requests / seconds, "%.1f") },
    { "p50_ms", json_number(latency:percentile(50) / 1000, "%.3f") },
    { "p90_ms", json_number(latency:percentile(90) / 1000, "%.3f") },
    { "p99_ms", json_number(latency:percentile(99) / 1000, "%.3f") },
    { "max_ms", json_number(latency.max / 1000, "%.3f") },
    -- wrk counts every answer with a status >= 400 here.
    { "non_2xx", json_number(errors.status, "%d") },
    { "socket_errors", json_number(errors.connect + errors.read + errors.write + errors.timeout, "%d") },
    { "timeouts", json_number(errors.timeout, "%d") },
    { "responses_2xx", json_number(sum_of_threads("responses_2xx"), "%d") },
  }
  local parts = {}
  for _, field in ipairs(fields) do
    table.insert(parts, string.format('"%s": %s', field[1], field[2]))
  end
  io.write("BENCH_RESULT {" .. table.concat(parts, ", ") .. "}\n")
end
