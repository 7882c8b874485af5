-- GET searching a 5-letter substring of last names (seed.lua gives each contact a hex last name).
--   wrk -t2 -c64 -d30s -s bench/wrk/search_name.lua http://localhost:8080
dofile("bench/wrk/common.lua")
local hex = "0123456789abcdef"
request = function()
  local term = ""
  for _ = 1, 5 do local i = math.random(1, 16); term = term .. hex:sub(i, i) end
  return wrk.format("GET", crm.path .. "?last_name=" .. term .. "&limit=20", crm.auth)
end
