local line = string.rep("=-", 10)
print(line)
print(string.rep("ab", 3, ","))
