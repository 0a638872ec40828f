local data = {5, 3, 8, 1, 9, 2}
local n = #data
for i = 1, n - 1 do
  for j = 1, n - i do
    if data[j] > data[j + 1] then
      data[j], data[j + 1] = data[j + 1], data[j]
    end
  end
end
print(table.concat(data, " "))
