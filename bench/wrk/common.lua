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

-- Contact N's last name: 12 hex digits that look random but are computed from N, so that a
-- search can pick a piece of an existing name (bench/pgbench/search_name.sql computes the same).
function crm.last_name(n)
  return string.format("%06x%06x", (n * 2654435761) % 16777216, (n * 40503 + 12345) % 16777216)
end

-- 5 letters from a random existing contact's last name.
function crm.name_piece()
  local offset = math.random(1, 8)
  return crm.last_name(math.random(0, crm.contacts - 1)):sub(offset, offset + 4)
end
