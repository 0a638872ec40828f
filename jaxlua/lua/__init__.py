"""Real Lua: the sandbox that produces ground-truth stdout, and the random program generator.

- `run_lua(source, **limits) -> LuaResult`: untrusted code, worker process with a wall-clock limit.
- `LuaSandbox`: the same sandbox in-process (no wall clock), for the project's own generated programs.
- `ProgramGenerator(seed).sample(level) -> str`: random Lua programs per curriculum level (1-7).
- `count_branches(source)`: measured difficulty (branch points outside strings and comments).

Names load lazily, so the lexer (and `jaxlua.data.load_split`) work on hosts without lupa.
"""
from jaxlua._lazy import lazy_exports

_EXPORTS = {
    "GENERATOR_VERSION": "jaxlua.lua.generator", "LEVELS": "jaxlua.lua.generator",
    "GeneratorConfig": "jaxlua.lua.generator", "ProgramGenerator": "jaxlua.lua.generator",
    "count_branches": "jaxlua.lua.lexer", "normalise_source": "jaxlua.lua.lexer", "tokenize_lua": "jaxlua.lua.lexer",
    "run_lua": "jaxlua.lua.runner",
    "STATUSES": "jaxlua.lua.sandbox", "LuaResult": "jaxlua.lua.sandbox", "LuaSandbox": "jaxlua.lua.sandbox",
}
__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
