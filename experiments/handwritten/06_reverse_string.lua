local word = "lantern"
local reversed = ""
for i = #word, 1, -1 do
  reversed = reversed .. word:sub(i, i)
end
print(reversed)
