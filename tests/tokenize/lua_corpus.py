"""Test material: hand-written Lua programs covering the grammar, a small random program generator that
exercises every construct the tokenizer handles, and a Lua runner for stdout comparisons.

The project's own generator (`jaxlua.lua.ProgramGenerator`) is used by the property tests when present;
this generator complements it with constructs it may not emit (escapes, long strings, goto, bitwise ops).
"""
from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

# Pieces of Lua text a fuzzer inserts: characters and the keywords, brackets and escapes tokenizers trip on.
LUA_ALPHABET = list("abcxyz019 \n\t\"'[]=-.+*/%^#<>~(){};:,\\") + [
    "local ", "function ", "end ", "if ", "then ", "else ", "for ", "in ", "do ", "while ", "return ",
    "print", "[[", "]]", "--", "..", "...", "::", "goto ", "not ", "and ", "or ", "nil", "\\x4", "\\u{", "\\z"]


def mutated_programs(programs: Sequence[str], rng: random.Random, count: int) -> Iterator[str]:
    """`count` programs of `programs`, each with 1 to 3 characters deleted, doubled or replaced by a piece of
    `LUA_ALPHABET` (many no longer parse)."""
    for _ in range(count):
        source = list(rng.choice(programs))
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(source))
            op = rng.random()
            if op < 0.4:
                del source[i]
            elif op < 0.7:
                source.insert(i, source[i])
            else:
                source[i] = rng.choice(LUA_ALPHABET)
        yield "".join(source)


HANDWRITTEN = [
    'print("Hello, World!")',
    'message = "Hello World"\nprint(string.upper(message))\n',
    'local a, b = 3, 4\nprint("Product: " .. (a * b))\nprint(a / b, a // b, a % b, a ^ 2, -a)\n',
    'local t = {1, 2, 3, x = "y", ["k"] = 5; 6}\nprint(#t, t.x, t["k"], t[4])\n',
    'local s = "abc"\nprint(s:upper(), s:rep(2, "-"), ("%d|%5.2f"):format(7, 3.14159))\n',
    'print(not nil, true and false, nil or "d", 1 < 2, 2 <= 2, 3 > 4, 4 >= 5, 1 == 1, 1 ~= 2)\n',
    'print(5 & 3, 5 | 3, 5 ~ 3, ~5, 1 << 4, 256 >> 4)\n',
    'local function fact(n) if n <= 1 then return 1 else return n * fact(n - 1) end end\nprint(fact(10))\n',
    'for i = 10, 1, -3 do io.write(i, " ") end print()\n',
    'local t = {"a", "b"}\nfor i, v in ipairs(t) do print(i, v) end\n',
    'local n = 0\nwhile n < 3 do n = n + 1 end\nrepeat n = n - 1 until n == 0\nprint(n)\n',
    'local x = 5\nif x > 3 then print("big") elseif x > 1 then print("mid") else print("small") end\n',
    'do local i = 1 ::top:: i = i + 1 if i < 4 then goto top end print(i) end\n',
    'local function f(...) return select("#", ...), ... end\nprint(f(1, nil, 3))\n',
    'local obj = {v = 2}\nfunction obj:get(k) return self.v * k end\nfunction obj.twice(x) return 2 * x end\n'
    'print(obj:get(21), obj.twice(4))\n',
    'print "call with a string"\nprint(type{1, 2})\n',
    'local s = [[\nline one\nline "two"]]\nprint(s, #s)\nprint([==[a]]b]==])\n',
    'print("tab\\tnewline\\nquote\\"back\\\\slash\\65\\x41\\u{48}\\z\n      end")\n',
    "print('single \\'quoted\\'', 'a\\\nb')\n",
    'print(0x1F, 1e3, 3.0, .5, 0x.8p1, 2^53, 7 // 2.0, -0.0, 1/0, -1/0, math.pi)\n',
    'local x <const> = 10\nlocal y <close> = nil\nprint(x)\n',
    '-- a comment\nprint(1) --[[ block\ncomment ]] print(2)\n',
    'local f = function(a, b) return (a + b) * (a - b) end\nprint(f(3, 2), (f(1, 1)))\n',
    'local t = {}\nt[#t + 1] = "x"; t.y = {z = {1}}\nprint(#t, t.y.z[1]);\n',
    'print(("x"):rep(3), #"hello", -(-2) ^ 2, - - 2, not not true)\n',
    'local a = {}\nfor k, v in pairs({10, 20}) do a[#a + 1] = k + v end\nprint(table.concat(a, ","))\n',
    'print(string.format("%q", "a\\0b"), tostring(nil), tonumber("12") + 1)\n',
    'local function outer() local c = 0 return function() c = c + 1 return c end end\n'
    'local g = outer() g() print(g())\n',
    'print(math.max(3, 9, 2), math.min(3, 9, 2), math.floor(3.7), math.abs(-4))\n',
    'io.write("no newline")',
    'print("é ü ß 中文")\n',
    'local a, b, c = (function() return 1, 2, 3 end)()\nprint(a, b, c)\n',
    'while true do break end print("after")\n',
    'print(1 .. 2, "a" .. 1.5, 2 .. "")\n',
]

# Parse but are not loadable by `load` (the shebang is skipped only by the standalone interpreter).
PARSE_ONLY = ['#!/usr/bin/lua\nprint("shebang")\n']

_NAMES = ["a", "b", "c", "x", "y", "n", "total", "count", "value", "result"]
_STRING_CHARS = "abcdefghijklmnopqrstuvwxyz ABCXYZ0123456789,.:;!?-_=+*/()[]{}<>#%&|~^'@$é"


class MiniGenerator:
    """Random, mostly runnable Lua programs over a wide slice of the grammar (deterministic per seed)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.names: list[str] = []
        self.depth = 0
        self.labels = 0

    def sample(self, statements: int | None = None) -> str:
        r = self.rng
        self.names = []
        lines = []
        for _ in range(statements or r.randint(2, 8)):
            lines.append(self.statement())
        lines.append(self.print_stmt())
        return "\n".join(lines) + "\n"

    # ---------------------------------------------------------------- expressions
    def number(self) -> str:
        r = self.rng
        kind = r.random()
        if kind < 0.6:
            return str(r.randint(0, 120))
        if kind < 0.75:
            return f"{r.randint(0, 99)}.{r.randint(0, 99)}"
        if kind < 0.85:
            return hex(r.randint(0, 255))
        if kind < 0.95:
            return f"{r.randint(1, 9)}e{r.randint(0, 3)}"
        return f".{r.randint(1, 9)}"

    def string(self) -> str:
        r = self.rng
        body = "".join(r.choice(_STRING_CHARS) for _ in range(r.randint(0, 10)))
        style = r.random()
        if style < 0.1:
            return f"[[{body.replace(']', ')')}]]"
        if style < 0.15:
            return f"[==[\n{body}]]]==]"
        escaped = body.replace("\\", "\\\\").replace('"', '\\"')
        extras = ["\\n", "\\t", "\\065", "\\x41", "\\u{263A}", "\\\\", '\\"', "\\'", "\\z  ", "\\0"]
        if r.random() < 0.4:
            pos = r.randint(0, len(escaped))
            while pos > 0 and escaped[pos - 1] == "\\":  # do not split an existing escape
                pos -= 1
            escaped = escaped[:pos] + r.choice(extras) + escaped[pos:]
        return f'"{escaped}"'

    def num_expr(self, depth: int = 0) -> str:
        r = self.rng
        if depth > 2 or r.random() < 0.35:
            num_vars = [n for n in self.names if n.startswith("n_")]
            if num_vars and r.random() < 0.5:
                return r.choice(num_vars)
            return self.number()
        choice = r.random()
        if choice < 0.55:
            op = r.choice(["+", "-", "*", "//", "%", "^", "/"])
            left, right = self.num_expr(depth + 1), self.num_expr(depth + 1)
            if op in ("//", "%", "/"):
                right = f"({right} + 1)" if r.random() < 0.5 else str(r.randint(1, 9))
            if op == "^":
                right = str(r.randint(0, 3))
            return f"{left} {op} {right}"
        if choice < 0.65:
            return f"- {self.num_expr(depth + 1)}"
        if choice < 0.75:
            return f"({self.num_expr(depth + 1)})"
        if choice < 0.85:
            return f"#{self.string()}"
        if choice < 0.92:
            op = r.choice(["&", "|", "~", "<<", ">>"])
            return f"({r.randint(0, 64)} {op} {r.randint(0, 6)})"
        return f"math.floor({self.num_expr(depth + 1)})"

    def bool_expr(self, depth: int = 0) -> str:
        r = self.rng
        choice = r.random()
        if depth > 1 or choice < 0.5:
            op = r.choice(["<", "<=", ">", ">=", "==", "~="])
            return f"{self.num_expr(2)} {op} {self.num_expr(2)}"
        if choice < 0.7:
            return f"not ({self.bool_expr(depth + 1)})"
        if choice < 0.9:
            op = r.choice(["and", "or"])
            return f"{self.bool_expr(depth + 1)} {op} {self.bool_expr(depth + 1)}"
        return r.choice(["true", "false", "nil == nil"])

    def str_expr(self) -> str:
        r = self.rng
        choice = r.random()
        str_vars = [n for n in self.names if n.startswith("s_")]
        if choice < 0.3:
            return self.string()
        if choice < 0.45 and str_vars:
            return r.choice(str_vars)
        if choice < 0.6:
            return f"{self.string()} .. {self.num_expr(1)}"
        if choice < 0.7:
            return f"({self.string()}):upper()"
        if choice < 0.8:
            return f"string.rep({self.string()}, {r.randint(0, 3)})"
        if choice < 0.9:
            return f'string.format("%d:%s", {r.randint(-50, 50)}, {self.string()})'
        return f"tostring({self.bool_expr(1)})"

    # ---------------------------------------------------------------- statements
    def print_stmt(self) -> str:
        r = self.rng
        args = [r.choice([self.num_expr, self.str_expr, self.bool_expr])() for _ in range(r.randint(1, 3))]
        if r.random() < 0.1:
            return f"io.write({self.str_expr()}, \"\\n\")"
        if r.random() < 0.05:
            return f"print {self.string()}"
        return f"print({', '.join(args)})"

    def statement(self) -> str:
        r = self.rng
        self.depth += 1
        try:
            choice = r.random() if self.depth < 3 else r.random() * 0.5
            if choice < 0.2:
                name = f"n_{r.choice(_NAMES)}"
                local = "local " if name not in self.names and r.random() < 0.7 else ""
                statement = f"{local}{name} = {self.num_expr()}"
                if self.depth == 1:
                    self.names.append(name)
                return statement
            if choice < 0.3:
                name = f"s_{r.choice(_NAMES)}"
                statement = f"local {name} = {self.str_expr()}"
                if self.depth == 1:
                    self.names.append(name)
                return statement
            if choice < 0.5:
                return self.print_stmt()
            if choice < 0.6:
                body = self.statement()
                return f"if {self.bool_expr()} then\n  {body}\nelseif {self.bool_expr()} then\n  " \
                       f"{self.print_stmt()}\nelse\n  {self.print_stmt()}\nend"
            if choice < 0.7:
                return f"for i = {r.randint(1, 3)}, {r.randint(1, 5)}{r.choice(['', ', 2', ', -1'])} do\n" \
                       f"  {self.print_stmt()}\nend"
            if choice < 0.75:
                return f"local t = {{{self.number()}, {self.string()}, k = {self.num_expr()}}}\n" \
                       f"for key, v in ipairs(t) do print(key, v) end\nprint(#t, t.k, t[2])"
            if choice < 0.8:
                return f"local w = {r.randint(0, 4)}\nwhile w > 0 do w = w - 1; {self.print_stmt()} end"
            if choice < 0.85:
                return f"local function f(p, q)\n  return p * 2 + q, p .. \"\"\nend\nprint(f({self.num_expr(2)}, " \
                       f"{self.num_expr(2)}))"
            if choice < 0.9:
                return f"do -- block\n  local r = {r.randint(0, 3)}\n  repeat r = r + 1 until r >= 3\n" \
                       f"  print(r)\nend"
            if choice < 0.95:
                self.labels += 1
                label = f"again{self.labels}"
                return f"local k = 0\n::{label}:: k = k + 1\nif k < {r.randint(1, 4)} then goto {label} end\nprint(k)"
            return f"print(select('#', {self.number()}, nil), (\"x\"):rep({r.randint(0, 3)}, \",\"))"
        finally:
            self.depth -= 1


_SANDBOX = None


def run_lua_stdout(source: str) -> tuple[str, str]:
    """(status, stdout) of `source` in the project's in-process sandbox (the programs here are trusted)."""
    global _SANDBOX
    from jaxlua.lua import LuaSandbox

    if _SANDBOX is None:
        _SANDBOX = LuaSandbox()
    result = _SANDBOX.run(source)
    return result.status, result.stdout


def project_generator():
    """`jaxlua.lua.ProgramGenerator` if that module imports, else None."""
    try:
        from jaxlua.lua import ProgramGenerator  # the contract's name
    except ImportError:
        try:
            from jaxlua.lua.generator import ProgramGenerator
        except ImportError:
            return None
    return ProgramGenerator


# Programs where renaming identifiers could change the output if done carelessly (canonical identifiers).
CANONICAL_HAZARDS = [
    # record keys observed through pairs and string indexing: fields keep their names
    'local rec = {alpha = 1, beta = 2}\nlocal keys = {}\nfor k, v in pairs(rec) do keys[#keys + 1] = k end\n'
    'table.sort(keys)\nprint(table.concat(keys, ","), rec["alpha"], rec.beta)\n',
    # pairs order over string keys depends on the keys themselves
    'local t = {zeta = "a", eta = "b", theta = "c", iota = "d"}\nlocal s = ""\n'
    'for _, v in pairs(t) do s = s .. v end\nprint(#s)\nfor k in pairs(t) do io.write(k, " ") end print()\n',
    # a variable and a field of the same name, and a string equal to a variable name
    'local count = 3\nlocal box = {count = 5}\nprint(count, box.count, "count", box["count"])\n',
    # methods: user methods, self, library string methods
    'local obj = {v = 2}\nfunction obj:get(k) return self.v * k end\nfunction obj.twice(x) return 2 * x end\n'
    'local s = "abc"\nprint(obj:get(21), obj.twice(4), s:upper(), ("x"):rep(3))\n',
    # reflective programs keep every name
    'x = 5\nprint(_G.x, _G["x"])\n',
    'local ok, err = pcall(function() local t = nil; return t.field end)\nprint(ok, err:match("%((.-)%)"))\n',
    'y = 7\nprint(load("return y")())\n',
    # library names shadowed by locals stay as they are
    'local string = {upper = function(s) return s .. "!" end}\nprint(string.upper("a"))\n',
    'local print2 = print\nlocal type = "mine"\nprint2(type)\n',
    # labels and goto
    'local i = 1\n::top:: i = i + 1\nif i < 4 then goto top end\nprint(i)\n',
    # closures, upvalues, varargs, multiple assignment
    'local function outer() local c = 0 return function() c = c + 1 return c end end\n'
    'local f = outer()\nf()\nprint(f(), select("#", 1, 2))\nlocal a, b = 1, 2\na, b = b, a\nprint(a, b)\n',
    # computed keys, positional fields that are variables, nested tables
    'local k = "z"\nlocal w = 4\nlocal t = {[k] = 1, w, nested = {w = w}}\nprint(t.z, t[1], t.nested.w)\n',
    # more distinct names than the canonical names reserved in the vocabulary
    "\n".join(f"local n{i} = {i}" for i in range(80)) + "\nprint(" + " + ".join(f"n{i}" for i in range(80)) + ")\n",
    # a global never assigned reads nil whatever its name; names inside strings are never renamed
    'print(undefined_thing == nil)\n',
    'local name = "name"\nprint(string.format("%s=%d", name, 3), name .. "name")\n',
    # file methods, functions declared on table paths, recursion through a global
    'io.write("a"):write("b", "\\n")\n',
    'local m = {}\nm.sub = {}\nfunction m.sub.add(a, b) return a + b end\nprint(m.sub.add(2, 3))\n',
    'function fact(n) if n <= 1 then return 1 end return n * fact(n - 1) end\nprint(fact(6))\n',
    # a metatable __index that sees field names
    'local t = setmetatable({}, {__index = function(_, key) return key .. "?" end})\nprint(t.hello, t.world)\n',
    # a variable already named like a canonical name
    'local v2 = "first"\nlocal x = "second"\nlocal v1 = v2 .. x\nprint(v1, v2, x)\n',
]
