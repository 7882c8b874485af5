-- 80% GET by email, 10% PUT, 5% POST, 5% name search.
--   wrk -t2 -c64 -d30s -s bench/wrk/mixed.lua http://localhost:8080
dofile("bench/wrk/common.lua")
local run = os.time()
local counter = 0
request = function()
  local dice = math.random(1, 100)
  if dice <= 80 then
    return wrk.format("GET", crm.path .. "?email=" .. crm.existing_email(), crm.auth)
  elseif dice <= 90 then
    return wrk.format("PUT", crm.path, crm.form, "email=" .. crm.existing_email() .. "&first_name=Mixed")
  elseif dice <= 95 then
    counter = counter + 1
    return wrk.format("POST", crm.path, crm.form, "email=mixed-" .. run .. "-" .. (thread_id or 0) .. "-" .. counter .. "%40example.com")
  end
  return wrk.format("GET", crm.path .. "?last_name=" .. crm.name_piece() .. "&limit=20", crm.auth)
end
