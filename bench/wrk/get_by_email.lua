-- GET by email, an existing contact each time.
--   wrk -t2 -c64 -d30s -s bench/wrk/get_by_email.lua http://localhost:8080
dofile("bench/wrk/common.lua")
request = function()
  return wrk.format("GET", crm.path .. "?email=" .. crm.existing_email(), crm.auth)
end
