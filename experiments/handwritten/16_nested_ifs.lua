local age = 17
local hasPermit = true

if age >= 16 then
    if hasPermit then
        print("You may drive with a supervisor")
    else
        print("Get a permit first")
    end
else
    print("Too young to drive")
end
