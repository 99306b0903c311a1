"""`python -m ksql_emulator`: the same as the `ksql-emulator` command."""

from __future__ import annotations

import sys

from ksql_emulator.app.cli import main

if __name__ == "__main__":
    sys.exit(main())
