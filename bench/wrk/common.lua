-- Shared by the wrk scripts in this folder (run wrk from the repository root).
-- Environment:
--   CRM_KEY       an API key granted CRM_LISTING (required): make -s crm ARGS='key create --listing 1'
--   CRM_LISTING   the listing to load (default 1)
--   CRM_CONTACTS  contacts bench<N>@example.com exist for N below this (default 100000; seed.lua makes them)
crm = {
  key = os.getenv("CRM_KEY") or error("set CRM_KEY to an API key of the listing"),
  listing = os.getenv("CRM_LISTING") or "1",
  contacts = tonumber(os.getenv("CRM_CONTACTS") or "100000"),
}
crm.path = "/crm/" .. crm.listing
crm.auth = { ["Authorization"] = "Bearer " .. crm.key }
crm.form = { ["Authorization"] = "Bearer " .. crm.key, ["Content-Type"] = "application/x-www-form-urlencoded" }

-- Each wrk thread gets its own Lua state: number them so they never collide, and seed each
-- thread's random numbers differently (they would all draw the same sequence otherwise).
local next_thread = 0
function setup(thread)
  thread:set("thread_id", next_thread)
  next_thread = next_thread + 1
end

function init(args)
  math.randomseed(os.time() * 1000 + (thread_id or 0) * 7919)
end

function crm.existing_email()
  return "bench" .. math.random(0, crm.contacts - 1) .. "%40example.com"
end
