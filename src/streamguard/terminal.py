"""Where the commands' messages go: errors, warnings and progress on one stderr console.

Rich wraps at the terminal's width, or at 80 columns when stderr is a pipe or a log file. An
error that names a file or a statement is copied, grepped and pasted, so stderr lines are never
broken; the terminal wraps them for display.
"""

from __future__ import annotations

import logging

from rich.console import Console

stderr = Console(stderr=True, soft_wrap=True, highlight=False)

# librdkafka's own log lines for clients whose failures the commands report themselves: a
# broker that is down would otherwise print a "Connect ... failed" line every few
# milliseconds until the command gives up.
librdkafka_silenced = logging.getLogger("streamguard.librdkafka")
librdkafka_silenced.addHandler(logging.NullHandler())
librdkafka_silenced.propagate = False
