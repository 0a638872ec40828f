for row = 1, 4 do
    print(string.rep("*", row))
end
