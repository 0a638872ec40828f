local item = "Coffee"
local price = 3.5
local quantity = 3
print(string.format("%s x%d = $%.2f", item, quantity, price * quantity))
