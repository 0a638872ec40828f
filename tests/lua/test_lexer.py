"""The light Lua lexer: branch counting and normalisation ignore strings, comments and layout."""
from jaxlua.lua.lexer import count_branches, normalise_source, tokenize_lua


def test_tokens_keep_strings_and_drop_comments():
    source = 'local s = "a \\" if" .. \'or\' -- if while\nx = [[for\nend]] --[==[ and\n]==] y=1.5e3//2'
    assert tokenize_lua(source) == ["local", "s", "=", '"a \\" if"', "..", "'or'", "x", "=", "[[for\nend]]",
                                    "y", "=", "1.5e3", "//", "2"]


def test_branch_points_are_counted_outside_strings_and_comments():
    source = """
    local function f(n) -- if if if
        if n > 1 and n < 5 or n == 9 then return 1 elseif n == 0 then return 2 end
        for i = 1, 3 do end
        while false do end
        repeat until true
        local msg = "if for while"
        return function() end
    end
    """
    # function x2, if, and, or, elseif, for, while, repeat
    assert count_branches(source) == 9
    assert count_branches("print('and or not')") == 0
    assert count_branches("local iffy, fortune, android = 1, 2, 3") == 0


def test_normalisation_ignores_layout_and_comments_only():
    a = "local x=1\nprint( x ) -- show"
    b = "local   x = 1 print(x)"
    assert normalise_source(a) == normalise_source(b) == "local x = 1 print ( x )"
    assert normalise_source('print("a  b")') != normalise_source('print("a b")')
