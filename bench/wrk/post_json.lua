-- POST the JSON body in BENCH_BODY to the URL given to wrk (the same body
-- every time), counting the 2xx answers. Used for POST /api/token/.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"

function init(args)
  responses_2xx = 0
end

function response(status, headers, body)
  count_response(status)
end
