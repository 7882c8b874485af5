-- Creates contacts bench<N>@example.com for N below CRM_CONTACTS (each thread takes every
-- THREADS-th number; pass the same -t as THREADS). Contact N's last name is
-- crm.last_name(N), 12 hex digits, so search_name.lua's 5-letter pieces of them always match. Stop wrk when it reports ~CRM_CONTACTS requests:
--   THREADS=2 wrk -t2 -c2 -d600s -s bench/wrk/seed.lua http://localhost:8080
dofile("bench/wrk/common.lua")
local threads = tonumber(os.getenv("THREADS") or "1")
local n = nil
request = function()
  -- wrk calls request() once before the first real request and drops the result: start one
  -- stride early so that call spends a number no contact needs.
  n = n and n + threads or (thread_id or 0) - threads
  if n < 0 or n >= crm.contacts then
    return wrk.format("GET", "/healthz")
  end
  local last = crm.last_name(n)
  return wrk.format("POST", crm.path, crm.form,
    "email=bench" .. n .. "%40example.com&first_name=Bench" .. n .. "&last_name=" .. last)
end
