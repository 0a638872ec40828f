local numbers = {3, 8, 1, 12, 6}
local total = 0
for _, value in ipairs(numbers) do
    total = total + value
end
print("The sum is " .. total)
