local s = "mississippi"
local _, count = string.gsub(s, "s", "")
print("The letter s appears " .. count .. " times")
