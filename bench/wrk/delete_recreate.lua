-- Alternately creates a contact and deletes one created a while before (by email), so the
-- listing keeps its size. The delay (more requests than connections) makes sure each POST
-- was answered before its DELETE is sent.
--   wrk -t2 -c64 -d30s -s bench/wrk/delete_recreate.lua http://localhost:8080
dofile("bench/wrk/common.lua")
local run = os.time()
local counter = 0
local created = {}
local first, last = 1, 0
local lag = tonumber(os.getenv("CONNECTIONS") or "64") + 8
local turn = 0
local primed = false
request = function()
  -- wrk calls request() once before the first real request and drops the result: spend that
  -- call on nothing, or a DELETE would later name a contact never created.
  if not primed then
    primed = true
    return wrk.format("GET", "/healthz")
  end
  turn = turn + 1
  if turn % 2 == 0 and last - first + 1 > lag then
    local email = created[first]
    created[first] = nil
    first = first + 1
    return wrk.format("DELETE", crm.path, crm.form, "email=" .. email)
  end
  counter = counter + 1
  local email = "cycle-" .. run .. "-" .. (thread_id or 0) .. "-" .. counter .. "%40example.com"
  last = last + 1
  created[last] = email
  return wrk.format("POST", crm.path, crm.form, "email=" .. email)
end
