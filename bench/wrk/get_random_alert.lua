-- GET /api/alerts/{id}/ for ids drawn uniformly from the loaded range.
-- Environment: BENCH_TOKEN, BENCH_ID_MIN, BENCH_ID_MAX.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

local id_min = tonumber(os.getenv("BENCH_ID_MIN"))
local id_max = tonumber(os.getenv("BENCH_ID_MAX"))

function init(args)
  seed_random()
end

function request()
  return wrk.format("GET", "/api/alerts/" .. math.random(id_min, id_max) .. "/")
end
