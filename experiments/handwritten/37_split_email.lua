local email = "jane.doe@example.com"
local at = string.find(email, "@")
print("User: " .. string.sub(email, 1, at - 1))
print("Domain: " .. email:sub(at + 1))
