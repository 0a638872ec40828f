"""Real Lua: the sandbox that produces ground-truth stdout, and the random program generator.

- `run_lua(source, **limits) -> LuaResult`: untrusted code, worker process with a wall-clock limit.
- `LuaSandbox`: the same sandbox in-process (no wall clock), for the project's own generated programs.
- `ProgramGenerator(seed).sample(level) -> str`: random Lua programs per curriculum level (1-7).
- `count_branches(source)`: measured difficulty (branch points outside strings and comments).
"""
from jaxlua.lua.generator import GENERATOR_VERSION, LEVELS, GeneratorConfig, ProgramGenerator
from jaxlua.lua.lexer import count_branches, normalise_source, tokenize_lua
from jaxlua.lua.runner import run_lua
from jaxlua.lua.sandbox import STATUSES, LuaResult, LuaSandbox

__all__ = ["GENERATOR_VERSION", "LEVELS", "STATUSES", "GeneratorConfig", "LuaResult", "LuaSandbox",
           "ProgramGenerator", "count_branches", "normalise_source", "run_lua", "tokenize_lua"]
