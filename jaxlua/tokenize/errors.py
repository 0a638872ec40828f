"""The one exception the tokenizer raises for source text it cannot read as Lua."""
from __future__ import annotations


class LuaSyntaxError(ValueError):
    """Lua source that does not parse; carries the 1-based `line` and `column` (in bytes) of the problem."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"line {line}, column {column}: {message}")
        self.reason = message
        self.line = line
        self.column = column

    def __reduce__(self):  # keep the exception picklable (multiprocessing workers re-raise it)
        return (LuaSyntaxError, (self.reason, self.line, self.column))
