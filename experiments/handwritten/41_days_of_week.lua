local days = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
local today = 3
local inFive = (today + 5 - 1) % #days + 1
print("Today is " .. days[today] .. ", in five days it is " .. days[inFive])
