local banner = [[Lua Language]]
print(banner:lower(), banner:upper(), #banner)
