local account = {owner = "Sam", balance = 100}

local function deposit(acc, amount)
  acc.balance = acc.balance + amount
end

local function withdraw(acc, amount)
  if amount > acc.balance then
    print("Insufficient funds")
  else
    acc.balance = acc.balance - amount
  end
end

deposit(account, 50)
withdraw(account, 500)
withdraw(account, 30)
print(account.owner .. " has " .. account.balance)
