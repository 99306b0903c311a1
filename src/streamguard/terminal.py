"""Where the commands' messages go: errors, warnings and progress on one stderr console.

Rich wraps at the terminal's width, or at 80 columns when stderr is a pipe or a log file. An
error that names a file or a statement is copied, grepped and pasted, so stderr lines are never
broken; the terminal wraps them for display.
"""

from __future__ import annotations

from rich.console import Console

stderr = Console(stderr=True, soft_wrap=True, highlight=False)
