for i = 0, 8, 2 do
    print("2^" .. i .. " = " .. 2 ^ i)
end
