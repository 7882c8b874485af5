-- GET a page of 100 contacts without a filter, from a random place in the listing.
--   wrk -t2 -c64 -d30s -s bench/wrk/list_page.lua http://localhost:8080
dofile("bench/wrk/common.lua")
local low = tonumber(os.getenv("CRM_MIN_ID") or "1")
local high = tonumber(os.getenv("CRM_MAX_ID") or tostring(crm.contacts))
request = function()
  return wrk.format("GET", crm.path .. "?limit=100&after=" .. math.random(low - 1, math.max(low, high - 100)), crm.auth)
end
