-- wrk script of benches/load/compare.sh: one flow against either server, same requests.
--   FLOW=signin     every request a distinct valid signed link (paths from $LINKS)
--   FLOW=helpdesk   api.php singlesignon, then /admin/main.php?_ssot= with the token answered
--   FLOW=callcenter POST /sso/0 (Platform-Keys bench-<i>-platform-key, round robin), then the url
-- Counts, per thread, the answers that are what a successful flow answers (a token or url, a
-- 302 that is not to an error page) and everything else; done() prints both totals.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  flow = os.getenv("FLOW")
  host = wrk.headers["Host"]
  pending, n, ok, bad, minted = {}, 0, 0, 0, 0
  if flow == "signin" then
    links = {}
    local k = 0
    local nthreads = tonumber(os.getenv("THREADS"))
    for line in io.lines(os.getenv("LINKS")) do
      k = k + 1
      if k % nthreads == tid - 1 then table.insert(links, line) end
    end
  end
  admin_md5 = os.getenv("ADMIN_MD5")
  joe_md5 = os.getenv("JOE_MD5")
  nkeys = tonumber(os.getenv("NKEYS") or "1")
end

function request()
  if #pending > 0 then
    return wrk.format("GET", table.remove(pending, 1), { Host = host })
  end
  n = n + 1
  -- Each thread uses its own users and keys (odd / even), so a mint never replaces a token
  -- of another thread's flow, and the flows of a thread cycle through 64 users: a slow
  -- redemption would have to fall 64 mints behind for its user's token to be replaced.
  local slot = (n * 2 + tid) % 128
  if flow == "signin" then
    if n > #links then
      -- Out of distinct links: replay the last one, which is refused (errorID 3) and so
      -- counted as another answer, never a request of something else counted as a login.
      ran_out, n = #links, #links
    end
    return wrk.format("GET", links[n], { Host = host })
  elseif flow == "helpdesk" then
    return wrk.format("GET", "/api.php?api_user=admin&api_pass_h=" .. admin_md5 ..
      "&api_output=json&api_action=singlesignon&sso_addr=127.0.0.1&sso_user=joe" .. slot ..
      "&sso_pass=" .. joe_md5 .. "&sso_duration=30", { Host = host })
  else
    local key = "bench-" .. ((n * 2 + tid) % nkeys) .. "-platform-key"
    local body = '{"username":"agent' .. slot .. '","fullname":"Agent ' .. slot ..
      '","department_id":1,"campaign_id":"1,2"}'
    return wrk.format("POST", "/sso/0", { Host = host, ["Content-Type"] = "application/json",
      ["Platform-Key"] = key }, body)
  end
end

-- The first answer that was not a success, to say what went wrong.
local function wrong(status, what)
  bad = bad + 1
  if not first_bad then first_bad = status .. " " .. string.sub(what, 1, 160) end
end

function response(status, headers, body)
  if status == 200 then
    local token = string.match(body, '"token":"([%w_%-]+)"')
    if token then
      table.insert(pending, "/admin/main.php?_ssot=" .. token)
      minted = minted + 1
      return
    end
    local path = string.match(body, '"url":"[^"]-(/sso/login%?token=[%w_%-]+)"')
    if path then
      table.insert(pending, path)
      minted = minted + 1
      return
    end
    wrong(status, body)
  elseif status == 302 then
    local location = headers["Location"] or headers["location"] or ""
    if string.find(location, "error") then wrong(status, location) else ok = ok + 1 end
  else
    wrong(status, body)
  end
end

function done(summary, latency, requests)
  local good, others, issued, example = 0, 0, 0, nil
  for _, t in ipairs(threads) do
    good = good + t:get("ok")
    others = others + t:get("bad")
    issued = issued + t:get("minted")
    example = example or t:get("first_bad")
  end
  io.write(string.format("flow: logins %d, tokens issued %d, other answers %d, socket errors %d\n",
    good, issued, others, summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.status + summary.errors.timeout))
  if example then io.write("first other answer: " .. example .. "\n") end
  for _, t in ipairs(threads) do
    local links = t:get("ran_out")
    if links then
      io.write(string.format("ran out of distinct links (%d per thread): a shorter run, or more links\n", links))
      break
    end
  end
end
