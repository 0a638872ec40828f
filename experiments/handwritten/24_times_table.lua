local n=7
for i=1,5 do print(n.." x "..i.." = "..n*i) end
