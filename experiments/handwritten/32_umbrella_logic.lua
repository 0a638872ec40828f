local isRaining = false
local hasUmbrella = true
local goOutside = not isRaining or hasUmbrella
print("Go outside?", goOutside)
