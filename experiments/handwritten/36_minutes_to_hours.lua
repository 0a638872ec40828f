local minutes = 135
local hours = minutes // 60
local rest = minutes % 60
print(hours .. "h " .. rest .. "m")
