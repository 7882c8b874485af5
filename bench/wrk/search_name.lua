-- GET searching a 5-letter piece of an existing contact's last name (see crm.last_name).
--   wrk -t2 -c64 -d30s -s bench/wrk/search_name.lua http://localhost:8080
dofile("bench/wrk/common.lua")
request = function()
  local offset = math.random(1, 8)
  local term = crm.last_name(math.random(0, crm.contacts - 1)):sub(offset, offset + 4)
  return wrk.format("GET", crm.path .. "?last_name=" .. term .. "&limit=20", crm.auth)
end
