for f = 32, 212, 60 do
  local c = (f - 32) * 5 / 9
  print(string.format("%dF = %.1fC", f, c))
end
