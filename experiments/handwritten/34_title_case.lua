local title = "the lord of the rings"
local result = title:gsub("(%a)(%a*)", function(first, rest)
  return first:upper() .. rest
end)
print(result)
