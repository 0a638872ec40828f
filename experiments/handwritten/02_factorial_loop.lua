-- factorial of 6 with a for loop
local n = 6
local result = 1
for i = 1, n do
  result = result * i
end
print("6! = " .. result)
