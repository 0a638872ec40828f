"""Execute a notebook in place with nbclient, so that it is committed with its outputs.

    python notebooks/execute.py [notebooks/analysis.ipynb] [--timeout SECONDS]

Runs from the repository root (the notebook finds its inputs there); the JAXLUA_* variables the notebook reads
(JAXLUA_STUDY, JAXLUA_STUDY_DIR, JAXLUA_DATA_DIR, ...) pass through. The kernel draws with matplotlib's inline
backend, which needs no display and keeps each figure as a PNG in the notebook, whatever MPLBACKEND says here
(Agg would draw nothing into the outputs). A cell that raises stops it with an error and the file is left
untouched.
"""
from __future__ import annotations

import argparse
import os
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


def execute(path: str | os.PathLike, out: str | os.PathLike | None = None, timeout: int = 600):
    """Run every cell of the notebook at `path` from the repository root and write it with outputs to `out`
    (default: in place). Raises nbclient.exceptions.CellExecutionError when a cell raises."""
    import nbclient
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:  # no timestamps: a re-run changes the outputs only
        cell.metadata.pop("execution", None)
    env = {**os.environ, "MPLBACKEND": INLINE_BACKEND}  # headless, and the figures land in the outputs
    nbclient.NotebookClient(notebook, timeout=timeout, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(ROOT)}}).execute(env=env)
    nbformat.write(notebook, out if out is not None else path)
    return notebook


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", nargs="?", default=str(ROOT / "notebooks" / "analysis.ipynb"))
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = parser.parse_args()
    execute(args.notebook, timeout=args.timeout)
    print(f"executed {args.notebook} in place")


if __name__ == "__main__":
    main()
