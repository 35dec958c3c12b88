"""Progress in Jupyter: a notebook executed headlessly (nbclient and a real ipykernel) shows a live
display that is updated while the run goes and keeps its last state in the saved notebook."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

from multifetch.testing import TargetServer

SRC = str(Path(__file__).resolve().parents[1] / "src")


class RecordingClient(NotebookClient):  # type: ignore[misc]
    """Keeps every output message the kernel sent, updates included (the notebook keeps the last)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.messages: list[tuple[int, str, dict[str, Any]]] = []

    def process_message(self, msg: dict[str, Any], cell: Any, cell_index: int) -> Any:
        self.messages.append((cell_index, msg["msg_type"], msg["content"]))
        return super().process_message(msg, cell, cell_index)


def run_notebook(tmp_path: Path, *cells: str) -> tuple[Any, RecordingClient]:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        f"import sys; sys.path.insert(0, {SRC!r})")] + [nbformat.v4.new_code_cell(c) for c in cells])
    client = RecordingClient(notebook, timeout=120, kernel_name="python3",
                             resources={"metadata": {"path": str(tmp_path)}})
    env = {**os.environ, "PYTHONPATH": SRC}
    client.execute(env=env)
    nbformat.write(notebook, tmp_path / "run.ipynb")  # what a saved notebook holds
    return nbformat.read(tmp_path / "run.ipynb", as_version=4), client


def test_a_notebook_shows_live_progress(target: TargetServer, tmp_path: Path) -> None:
    urls = [f"{target.url}/delay/0.3?i={i}" for i in range(12)]
    notebook, client = run_notebook(
        tmp_path,
        f"import multifetch\nresults = list(multifetch.fetch({urls!r}, concurrency=2, per_host=2))\n"
        "len(results)",
        f"quiet = list(multifetch.fetch({urls[:2]!r}, progress=False))",
    )
    outputs = notebook.cells[1].outputs
    shown = [o for o in outputs if o.output_type == "display_data"]
    assert len(shown) == 1, outputs
    html, text = shown[0].data["text/html"], shown[0].data["text/plain"]
    assert '<progress value="12" max="12"' in html and "12 / 12 (100.0%) done" in html
    assert text.startswith("multifetch: 12 / 12 (100.0%) done")
    assert next(o for o in outputs if o.output_type == "execute_result").data["text/plain"] == "12"
    # while the run went, the display was updated in place: done counts that grew, below the total
    updates = [content["data"]["text/plain"] for index, kind, content in client.messages
               if index == 1 and kind == "update_display_data"]
    done = [int(m.group(1)) for u in updates if (m := re.search(r"(\d+) / 12", u))]
    assert len(done) >= 3 and done == sorted(done) and done[0] < 12, updates
    assert "in flight" in updates[0] and "ETA" in " ".join(updates)
    assert notebook.cells[2].outputs == []  # progress=False: nothing shown


def test_progress_is_off_by_default_outside_a_notebook(target: TargetServer, capfd: Any) -> None:
    import multifetch

    results = list(multifetch.fetch([f"{target.url}/bytes/5?i={i}" for i in range(5)]))
    assert len(results) == 5
    assert capfd.readouterr() == ("", "")


def test_progress_asked_for_outside_a_notebook_is_status_lines(target: TargetServer, capfd: Any) -> None:
    import multifetch

    urls = [f"{target.url}/delay/0.3?i={i}" for i in range(6)]
    results = list(multifetch.fetch(urls, concurrency=2, per_host=2, progress=True, progress_every=0.25))
    assert len(results) == 6
    out, err = capfd.readouterr()
    assert out == "" and re.search(r"^multifetch: \S+Z \d / 6 \(", err, re.MULTILINE), err
