--[[ add up the digits of a number,
     one digit at a time ]]
local number = 4821
local digitSum = 0
while number > 0 do
    digitSum = digitSum + number % 10
    number = number // 10
end
print("Digit sum: " .. digitSum)
