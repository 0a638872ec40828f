local cart = {
  {name = "apple", price = 0.5, qty = 6},
  {name = "bread", price = 2.25, qty = 1},
  {name = "milk", price = 1.2, qty = 2},
}
local total = 0
for _, item in ipairs(cart) do
  total = total + item.price * item.qty
end
print(string.format("Total: %.2f", total))
