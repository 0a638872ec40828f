local function is_palindrome(s)
  return s == s:reverse()
end

print(is_palindrome("level"))
print(is_palindrome("lunar"))
