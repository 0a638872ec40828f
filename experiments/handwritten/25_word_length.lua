local city = 'Edinburgh'
print('The word ' .. city .. ' has ' .. #city .. ' letters')
