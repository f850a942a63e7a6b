"""The built-in lint rules, one module per group of risks, all in one registry.

Importing this package registers every rule in :data:`RULESET`; the interpreter looks rules
up there by event (callee name, keyword, attribute assignment, loop, route, module).
"""

from mlwarden.linter.checks import hub, loading, serving, training, transport
from mlwarden.linter.checks.base import REGISTRY as RULESET
from mlwarden.linter.checks.base import RuleSet

__all__ = ["RULESET", "RuleSet", "hub", "loading", "serving", "training", "transport"]
