"""The producer's errors: one root, `ProducerError`, that the command reports and exits on.

ProducerError
├── ReplayError   a recorded transaction could not be read (names the file and line)
└── SendError     no Kafka producer could be made (names the setting and why)
"""

from __future__ import annotations


class ProducerError(Exception):
    """Something `streamguard produce` cannot go on with; the message says what and where."""


class ReplayError(ProducerError, ValueError):
    """A recorded transaction could not be read; the message names the file and line."""


class SendError(ProducerError):
    """No Kafka producer could be made from the settings; the message says which and why."""
