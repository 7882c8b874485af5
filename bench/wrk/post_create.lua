-- POST new contacts, each with an email no one has used (run id + thread + counter).
--   wrk -t2 -c64 -d30s -s bench/wrk/post_create.lua http://localhost:8080
dofile("bench/wrk/common.lua")
local run = os.time()
local counter = 0
request = function()
  counter = counter + 1
  local email = "new-" .. run .. "-" .. (thread_id or 0) .. "-" .. counter .. "%40example.com"
  return wrk.format("POST", crm.path, crm.form, "first_name=Load&last_name=Test&email=" .. email)
end
