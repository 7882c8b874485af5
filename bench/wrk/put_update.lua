-- PUT updating an existing contact found by email.
--   wrk -t2 -c64 -d30s -s bench/wrk/put_update.lua http://localhost:8080
dofile("bench/wrk/common.lua")
request = function()
  return wrk.format("PUT", crm.path, crm.form, "email=" .. crm.existing_email() .. "&first_name=Updated" .. math.random(1, 1000))
end
