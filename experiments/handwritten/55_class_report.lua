-- letter grades for a small class
local students = {{"Ana", 91}, {"Ben", 78}, {"Cleo", 55}, {"Dev", 84}}
local passed = 0
for _, s in ipairs(students) do
    local name, mark = s[1], s[2]
    local letter
    if mark >= 90 then letter = "A"
    elseif mark >= 80 then letter = "B"
    elseif mark >= 70 then letter = "C"
    else letter = "F" end
    if letter ~= "F" then passed = passed + 1 end
    io.write(name, ":", letter, " ")
end
print("| passed " .. passed)
