-- GET the URL given to wrk, with the token from BENCH_TOKEN. The request is
-- built once and reused: the cheapest load wrk can generate.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")
