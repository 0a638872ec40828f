local count = 5
while count > 0 do
  io.write(count, "...")
  count = count - 1
end
print("Liftoff!")
