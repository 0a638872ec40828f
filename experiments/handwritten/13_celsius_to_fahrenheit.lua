local celsius = 25
local fahrenheit = celsius * 9 / 5 + 32
print(celsius .. "C is " .. fahrenheit .. "F")
