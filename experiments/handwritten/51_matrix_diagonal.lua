local grid = {
    {1, 2, 3},
    {4, 5, 6},
    {7, 8, 9},
}
local diagonal = 0
for i = 1, #grid do
    diagonal = diagonal + grid[i][i]
end
print("Diagonal sum = " .. diagonal)
