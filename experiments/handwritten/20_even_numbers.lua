local evens = {}
for n = 1, 20 do
  if n % 2 == 0 then
    table.insert(evens, n)
  end
end
print(table.concat(evens, " "))
