-- wrk script: POST a voice message to a random one of MAILBOXES mailboxes (user0000000…).
local mailboxes = tonumber(os.getenv("MAILBOXES") or "1000")
local token = os.getenv("TOKEN")
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"from":"+33142685300","durationSeconds":12,"urgent":false}'
math.randomseed(os.time())
request = function()
  local path = string.format("/api/v1/mailboxes/user%07d/messages", math.random(0, mailboxes - 1))
  return wrk.format(nil, path)
end
