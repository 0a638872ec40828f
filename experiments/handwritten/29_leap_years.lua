function isLeapYear(year)
  return (year % 4 == 0 and year % 100 ~= 0) or year % 400 == 0
end

for _, y in ipairs({1900, 2000, 2023, 2024}) do
  print(y, isLeapYear(y))
end
