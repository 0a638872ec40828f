"""Names Lua's environment gives meaning to: the standard library (Lua 5.4 manual, section 6).

Canonical identifiers keep these names as they are (renaming `print` or `string.upper` would change what a
program does), and every vocabulary of that style reserves one token per name, so no library name is `<UNK>`.
"""
from __future__ import annotations

# Global functions and values of the base library, plus the library tables themselves.
GLOBALS: tuple[str, ...] = (
    "_G", "_ENV", "_VERSION", "arg", "assert", "collectgarbage", "dofile", "error", "getmetatable", "ipairs",
    "load", "loadfile", "next", "pairs", "pcall", "print", "rawequal", "rawget", "rawlen", "rawset", "require",
    "select", "setmetatable", "tonumber", "tostring", "type", "warn", "xpcall",
    "coroutine", "debug", "io", "math", "os", "package", "string", "table", "utf8",
)
MEMBERS: dict[str, tuple[str, ...]] = {
    "coroutine": ("close", "create", "isyieldable", "resume", "running", "status", "wrap", "yield"),
    "debug": ("debug", "gethook", "getinfo", "getlocal", "getmetatable", "getregistry", "getupvalue",
              "getuservalue", "sethook", "setlocal", "setmetatable", "setupvalue", "setuservalue", "traceback",
              "upvalueid", "upvaluejoin"),
    "io": ("close", "flush", "input", "lines", "open", "output", "popen", "read", "stderr", "stdin", "stdout",
           "tmpfile", "type", "write"),
    "math": ("abs", "acos", "asin", "atan", "ceil", "cos", "deg", "exp", "floor", "fmod", "huge", "log", "max",
             "maxinteger", "min", "mininteger", "modf", "pi", "rad", "random", "randomseed", "sin", "sqrt", "tan",
             "tointeger", "type", "ult"),
    "os": ("clock", "date", "difftime", "execute", "exit", "getenv", "remove", "rename", "setlocale", "time",
           "tmpname"),
    "package": ("config", "cpath", "loaded", "loadlib", "path", "preload", "searchers", "searchpath"),
    "string": ("byte", "char", "dump", "find", "format", "gmatch", "gsub", "len", "lower", "match", "pack",
               "packsize", "rep", "reverse", "sub", "unpack", "upper"),
    "table": ("concat", "insert", "move", "pack", "remove", "sort", "unpack"),
    "utf8": ("char", "charpattern", "codepoint", "codes", "len", "offset"),
}
# Methods of library objects: strings (`s:upper()`) and files (`io.write(x):write(y)`).
METHODS: tuple[str, ...] = MEMBERS["string"] + ("close", "flush", "lines", "read", "seek", "setvbuf", "write")

# A variable that holds one of these keeps its name; `self` is the implicit parameter of `function t:m()`.
KEPT_VARIABLES: frozenset[str] = frozenset(GLOBALS) | {"self"}
# Every library name a field or method may carry: such a field stays one token instead of being spelled.
LIBRARY_NAMES: frozenset[str] = KEPT_VARIABLES | {m for names in MEMBERS.values() for m in names} | set(METHODS)
# Library functions called by their dotted name (`string.upper(s)`).
DOTTED_FUNCTIONS: frozenset[str] = frozenset(f"{lib}.{m}" for lib, names in MEMBERS.items() for m in names)
# Names through which a program can read variable names as data (`_G.x`, `load("return x")`, error messages
# caught by `pcall`): a program that mentions one keeps all its names.
REFLECTIVE: frozenset[str] = frozenset({"_G", "_ENV", "load", "loadfile", "dofile", "require", "debug", "pcall",
                                        "xpcall", "getfenv", "setfenv", "loadstring"})
