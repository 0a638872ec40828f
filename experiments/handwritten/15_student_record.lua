local student = {name = "Alice", age = 20, major = "Physics"}
print(student.name .. " is " .. student.age .. " and studies " .. student.major)
