"""Real Lua: the sandbox that produces ground-truth stdout, and the random program generator.

- `run_lua(source, **limits) -> LuaResult`: untrusted code, worker process with a wall-clock limit.
- `LuaSandbox`: the same sandbox in-process (no wall clock), for the project's own generated programs.
- `ProgramGenerator(seed).sample(level) -> str`: random Lua programs per curriculum level (1-7).
- `count_branches(source)`: measured difficulty (branch points outside strings and comments).
- `constructs(source) -> set[str]`: the Lua constructs a program uses, named from `CONSTRUCTS` (lexical).

lupa is imported only when a sandbox starts, so the lexer (and `jaxlua.data.load_split`) work without it.
"""
from jaxlua.lua.coverage import CONSTRUCTS, constructs
from jaxlua.lua.generator import GENERATOR_VERSION, LEVELS, GeneratorConfig, ProgramGenerator
from jaxlua.lua.lexer import count_branches, normalise_source, tokenize_lua
from jaxlua.lua.runner import run_lua
from jaxlua.lua.sandbox import STATUSES, LuaResult, LuaSandbox
from jaxlua.lua.trace import TraceStep, format_trace

__all__ = [
    "CONSTRUCTS", "GENERATOR_VERSION", "GeneratorConfig", "LEVELS", "LuaResult", "LuaSandbox", "ProgramGenerator",
    "STATUSES", "TraceStep", "constructs", "count_branches", "format_trace", "normalise_source", "run_lua",
    "tokenize_lua",
]
