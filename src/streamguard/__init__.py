"""StreamGuard: real-time card fraud detection whose rules are ksqlDB SQL."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
