local text = "the quick brown fox jumps over the lazy dog"
local count = 0
for word in string.gmatch(text, "%a+") do
  count = count + 1
end
print("Words: " .. count)
