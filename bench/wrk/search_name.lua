-- GET searching a 5-letter piece of an existing contact's last name (see crm.last_name).
--   wrk -t2 -c64 -d30s -s bench/wrk/search_name.lua http://localhost:8080
dofile("bench/wrk/common.lua")
request = function()
  return wrk.format("GET", crm.path .. "?last_name=" .. crm.name_piece() .. "&limit=20", crm.auth)
end
