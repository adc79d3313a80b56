-- POST /users with a new email on every request: "<tag>-<thread>-<n>@bench.example".
-- The argument after "--" is the run's tag, so that no two runs send the same email; the
-- Authorization header comes from wrk's -H.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

function init(args)
  tag = args[1] or "bench"
  headers = {}
  for name, value in pairs(wrk.headers) do
    headers[name] = value
  end
  headers["Content-Type"] = "application/json"
  sent = 0
end

function request()
  sent = sent + 1
  local body = string.format('{"email":"%s-%d-%d@bench.example"}', tag, thread_number, sent)
  return wrk.format("POST", nil, headers, body)
end
