-- wrk: single POSTs of the three channels in turn. bench.peer sets AUTH for the project's API.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local auth = os.getenv("AUTH")
if auth and auth ~= "" then
  wrk.headers["Authorization"] = auth
end
local bodies = {
  '{"channel":"email","to":"ada@example.com","subject":"hi","body":"hello there"}',
  '{"channel":"sms","to":"+14155552671","body":"hello there"}',
  '{"channel":"whatsapp","to":"+447911123456","body":"hello there"}',
}
local i = 0
request = function()
  i = i + 1
  return wrk.format(nil, nil, nil, bodies[(i % 3) + 1])
end
