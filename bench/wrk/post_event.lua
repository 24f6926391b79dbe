-- POST /api/events/ with a High event (so each also raises an alert) from a
-- random sensor; counts the 2xx answers so bench/run can compare them with
-- the rows that reached the database. Environment: BENCH_TOKEN (admin).
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

wrk.headers["Content-Type"] = "application/json"

local event_types = { "intrusion", "malware", "anomaly" }

function init(args)
  seed_random()
  responses_2xx = 0
end

function request()
  local body = string.format(
    '{"source": "sensor-%03d", "event_type": "%s", "severity": "High", '
      .. '"description": "wrk ingest: suspicious traffic burst %d"}',
    math.random(0, 199), event_types[math.random(1, 3)], math.random(1, 1000000000))
  return wrk.format("POST", "/api/events/", nil, body)
end

function response(status, headers, body)
  count_response(status)
end
