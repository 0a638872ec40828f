local queue = {"ann", "bob", "cat"}
table.insert(queue, "dan")
local first = table.remove(queue, 1)
print("Served " .. first .. ", waiting: " .. #queue)
