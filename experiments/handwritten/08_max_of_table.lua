scores = {42, 17, 88, 63, 29}
local highest = scores[1]
for i = 2, #scores do
    if scores[i] > highest then highest = scores[i] end
end
print("Highest score: " .. highest)
