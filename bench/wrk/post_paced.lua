-- POST new contacts at a steady rate: each connection waits so that all of them together send
-- about RATE requests per second (wrk's delay(); the answers' own few milliseconds come on top
-- of each wait, so it aims 5 % higher; the caller prints the rate reached, from the database).
--   RATE=1000 CONNECTIONS=100 wrk -t2 -c100 -d20s -s bench/wrk/post_paced.lua http://localhost:8080
dofile("bench/wrk/common.lua")
local rate = tonumber(os.getenv("RATE") or "1000")
local connections = tonumber(os.getenv("CONNECTIONS") or "10")
local run = os.time()
local counter = 0
request = function()
  counter = counter + 1
  local email = "paced-" .. run .. "-" .. (thread_id or 0) .. "-" .. counter .. "%40example.com"
  return wrk.format("POST", crm.path, crm.form, "first_name=Paced&email=" .. email)
end
delay = function()
  return 1000 * connections / (rate * 1.05)
end
