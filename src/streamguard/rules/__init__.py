"""Rule tests: each rule file run on example transactions, its alerts compared with the expected."""

from streamguard.rules.cases import CaseFileError, RuleCases, load
from streamguard.rules.runner import CaseResult, run

__all__ = ["CaseFileError", "CaseResult", "RuleCases", "load", "run"]
