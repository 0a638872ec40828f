local csv = "12,7,30,1"
local total = 0
for num in csv:gmatch("[^,]+") do
  total = total + tonumber(num)
end
print("total=" .. total)
