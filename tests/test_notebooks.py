"""The analysis notebooks are valid nbformat-4 JSON whose code cells are valid Python using real jaxlua names."""
import ast
import json
import pathlib

import pytest

NOTEBOOKS = sorted((pathlib.Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_code_cells_parse_and_import_real_names(path):
    notebook = json.loads(path.read_text())
    assert notebook["nbformat"] == 4
    code = [("".join(cell["source"])) for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code
    for source in code:
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("jaxlua"):
                module = __import__(node.module, fromlist=[alias.name for alias in node.names])
                for alias in node.names:
                    assert hasattr(module, alias.name), f"{node.module}.{alias.name} does not exist"
