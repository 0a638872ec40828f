local x, y = 10, 20;
print("before:", x, y);
x, y = y, x;
print("after:", x, y);
