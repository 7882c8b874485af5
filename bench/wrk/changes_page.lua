-- GET a page of 1,000 change feed events (the oldest kept: the seeding's creates), each with
-- its contact. Events/s is req/s × 1,000.
--   wrk -t2 -c64 -d30s -s bench/wrk/changes_page.lua http://localhost:8080
dofile("bench/wrk/common.lua")
request = function()
  return wrk.format("GET", crm.path .. "/changes?limit=1000", crm.auth)
end
