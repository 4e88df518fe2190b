"""Gates: rules a candidate's metrics (and facts about it) must pass, one implementation for every
caller. `mlv model promote` checks them per model and stage; `mlv gate` (CI) will reuse them.

Pure logic: no git, no files. Callers gather the facts (`Facts`) and get one `RuleResult` per rule.
"""

from mlv.gates.evaluate import Facts, RuleResult, evaluate, failed
from mlv.gates.rules import GatePolicy, MetricRule, lower_is_better_by_name, parse_policy

__all__ = ["Facts", "GatePolicy", "MetricRule", "RuleResult", "evaluate", "failed",
           "lower_is_better_by_name", "parse_policy"]
