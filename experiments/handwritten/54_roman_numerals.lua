local function toRoman(num)
  local values = {1000, 900, 500, 400, 100, 90, 50, 40, 10, 9, 5, 4, 1}
  local symbols = {"M", "CM", "D", "CD", "C", "XC", "L", "XL", "X", "IX", "V", "IV", "I"}
  local out = ""
  for i, v in ipairs(values) do
    while num >= v do
      out = out .. symbols[i]
      num = num - v
    end
  end
  return out
end

print(toRoman(1994), toRoman(48))
