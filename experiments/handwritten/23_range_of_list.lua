local function range_of(list)
  local lo, hi = list[1], list[1]
  for _, v in ipairs(list) do
    if v < lo then lo = v end
    if v > hi then hi = v end
  end
  return lo, hi
end

local low, high = range_of({15, 4, 23, 8, 16})
print("Range: " .. low .. " to " .. high)
