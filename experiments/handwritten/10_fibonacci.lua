-- first ten Fibonacci numbers
local a, b = 0, 1
local fibs = {}
for i = 1, 10 do
    fibs[#fibs + 1] = a
    a, b = b, a + b
end
print(table.concat(fibs, ", "))
