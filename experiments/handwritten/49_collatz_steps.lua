-- how many steps does the Collatz sequence take to reach 1?
local n, steps = 6, 0
while n ~= 1 do
  if n % 2 == 0 then n = n // 2 else n = 3 * n + 1 end
  steps = steps + 1
end
print("steps: " .. steps)
