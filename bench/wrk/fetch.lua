-- wrk script of bench/http.py: GET {prefix}{phone} for a random phone of the fleet on every request, with the API key
-- in the Authorization header, and the figures printed in `name: value` lines when the run is done.
--
-- wrk -t2 -c64 -d10s -s bench/wrk/fetch.lua http://127.0.0.1:PORT -- PHONES_FILE KEY PREFIX SEED
--   PHONES_FILE  one phone per line (bench/http.py writes it from the seeded fleet)
--   KEY          sent as "Authorization: Bearer KEY"
--   PREFIX       the path before the phone, e.g. /archived-clients/fetch/
--   SEED         the random seed (each thread adds its own number to it, so runs repeat)

local phones = {}
local headers = {}
local prefix = "/"
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_number", counter)
end

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then phones[#phones + 1] = line end
  end
  if #phones == 0 then error("no phones in " .. args[1]) end
  headers["Authorization"] = "Bearer " .. args[2]
  prefix = args[3]
  math.randomseed(tonumber(args[4]) + (thread_number or 0))
end

function request()
  return wrk.format("GET", prefix .. phones[math.random(#phones)], headers)
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors
  io.write(string.format("wrk_requests: %d\n", summary.requests))
  io.write(string.format("wrk_seconds: %.3f\n", seconds))
  io.write(string.format("wrk_rps: %.1f\n", summary.requests / seconds))
  io.write(string.format("wrk_p50_ms: %.3f\n", latency:percentile(50) / 1000))
  io.write(string.format("wrk_p90_ms: %.3f\n", latency:percentile(90) / 1000))
  io.write(string.format("wrk_p99_ms: %.3f\n", latency:percentile(99) / 1000))
  io.write(string.format("wrk_max_ms: %.3f\n", latency.max / 1000))
  io.write(string.format("wrk_non_2xx: %d\n", errors.status))
  io.write(string.format("wrk_socket_errors: %d\n", errors.connect + errors.read + errors.write + errors.timeout))
end
