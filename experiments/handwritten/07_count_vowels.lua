local sentence = "programming in lua is fun"
local vowels = 0
for ch in sentence:gmatch("[aeiou]") do
    vowels = vowels + 1
end
print("Vowels: " .. vowels)
