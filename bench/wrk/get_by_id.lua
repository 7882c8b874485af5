-- GET by id, an existing contact each time (ids CRM_MIN_ID..CRM_MAX_ID, as seeded).
--   CRM_MIN_ID=1 CRM_MAX_ID=100000 wrk -t2 -c64 -d30s -s bench/wrk/get_by_id.lua http://localhost:8080
dofile("bench/wrk/common.lua")
local low = tonumber(os.getenv("CRM_MIN_ID") or "1")
local high = tonumber(os.getenv("CRM_MAX_ID") or tostring(crm.contacts))
request = function()
  return wrk.format("GET", crm.path .. "?id=" .. math.random(low, high), crm.auth)
end
