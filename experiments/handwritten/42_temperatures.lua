local temps = {-3, 4, 0, -1, 7, 2}
local above, below = 0, 0
for _, t in ipairs(temps) do
    if t > 0 then
        above = above + 1
    elseif t < 0 then
        below = below + 1
    end
end
print(string.format("%d days above zero, %d below", above, below))
