local function caesar(text, shift)
  local out = {}
  for i = 1, #text do
    local c = text:byte(i)
    if c >= 97 and c <= 122 then
      c = (c - 97 + shift) % 26 + 97
    end
    out[#out + 1] = string.char(c)
  end
  return table.concat(out)
end

print(caesar("hello world", 3))
