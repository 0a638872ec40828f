local value = 1
local steps = 0
repeat
    value = value * 2
    steps = steps + 1
until value > 100
print("Reached " .. value .. " after " .. steps .. " doublings")
