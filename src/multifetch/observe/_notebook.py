"""Live progress in a Jupyter notebook: one output, updated in place while the run goes.

It is a plain display (HTML with a ``<progress>`` bar, and text for frontends without HTML) that
IPython updates by its display id. rich's Live display and tqdm's notebook bar draw through
ipywidgets instead: their state lives in the kernel's widget comms, so a notebook run headlessly
(nbclient, papermill, ``jupyter nbconvert --execute``) or saved and opened elsewhere shows nothing
where the bar was, and both need ipywidgets installed beside the kernel. A display updated by id
works in JupyterLab, Notebook, VS Code and Colab, and its last state is saved in the notebook.
"""

from __future__ import annotations

import html
import sys
import threading
from collections.abc import Callable
from typing import Any

from ..engine._stats import Statistics
from ._figures import Figures, JobProgress, progress_parts

REFRESH = 0.5  # seconds between updates: each is a message to the notebook


def in_notebook() -> bool:
    """Whether this code runs in a Jupyter kernel (not a terminal IPython, not a script)."""
    if "ipykernel" not in sys.modules:  # nothing to import for a script
        return False
    try:
        from ipykernel.zmqshell import ZMQInteractiveShell
        from IPython import get_ipython
    except ImportError:
        return False
    return isinstance(get_ipython(), ZMQInteractiveShell)


class NotebookProgress:
    """Shows ``statistics()`` in the cell that started the run, refreshed every ``REFRESH`` seconds
    by a thread of its own (ipykernel sends a thread's output to the cell that started it)."""

    def __init__(self, statistics: Callable[[], Statistics], progress: JobProgress) -> None:
        from IPython.display import display

        self._statistics = statistics
        self._progress = progress
        self._lock = threading.Lock()  # one update at a time: the last one written is the last shown
        self._stopped = threading.Event()
        self._handle = display(self._bundle(), raw=True, display_id=True)  # type: ignore[no-untyped-call]
        self._thread = threading.Thread(target=self._loop, name="multifetch-notebook", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stopped.wait(REFRESH):
            self._update()

    def _update(self, ended: bool = False) -> None:
        with self._lock:
            self._handle.update(self._bundle(ended), raw=True)

    def _bundle(self, ended: bool = False) -> dict[str, str]:
        figures = self._progress.figures(self._statistics())
        return {"text/plain": progress_text(figures, ended), "text/html": progress_html(figures, ended)}

    def stop(self) -> None:
        """The last update (the run's end), made in the caller's thread."""
        self._stopped.set()
        self._thread.join()
        self._update(ended=True)


def progress_text(figures: Figures, ended: bool = False) -> str:
    return "multifetch: " + " · ".join(progress_parts(figures, ended=ended, reasons=False))


def progress_html(figures: Figures, ended: bool = False) -> str:
    bar: Any = ""
    if figures.total:
        bar = (f'<progress value="{figures.done}" max="{figures.total}" '
               'style="width: 16em; vertical-align: middle"></progress> ')
    elif not ended:
        bar = '<progress style="width: 16em; vertical-align: middle"></progress> '  # moving: no total
    text = " · ".join(html.escape(part) for part in progress_parts(figures, ended=ended, reasons=False))
    slowed = "".join(
        f"<br>{html.escape(h.name)}: {'dead' if h.dead else 'paused' if h.paused else 'slowed down'}, "
        f"{h.effective_limit}/{h.limit} connections"
        for h in figures.stats.slowed_hosts[:3]) if not ended else ""
    return f'<div class="multifetch-progress" style="font-family: monospace">{bar}{text}{slowed}</div>'
