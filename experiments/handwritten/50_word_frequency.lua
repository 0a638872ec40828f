local words = {"red", "blue", "red", "green", "blue", "red"}
local counts, order = {}, {}
for _, w in ipairs(words) do
  if counts[w] == nil then
    counts[w] = 0
    order[#order + 1] = w
  end
  counts[w] = counts[w] + 1
end
for _, w in ipairs(order) do
  io.write(w, "=", counts[w], " ")
end
print()
