local function toBinary(n)
    local bits = ""
    repeat
        bits = (n % 2) .. bits
        n = n // 2
    until n == 0
    return bits
end

print(toBinary(10), toBinary(37))
