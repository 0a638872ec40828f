function isPrime(n)
    if n < 2 then return false end
    for d = 2, math.floor(math.sqrt(n)) do
        if n % d == 0 then return false end
    end
    return true
end

print(isPrime(29), isPrime(33))
