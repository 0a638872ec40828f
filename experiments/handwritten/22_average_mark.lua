local marks = {78, 85, 92, 67}
local sum = 0
for i = 1, #marks do sum = sum + marks[i] end
local average = sum / #marks
print("Average mark: " .. average)
