greeting = "good morning"
print(string.upper(greeting))
