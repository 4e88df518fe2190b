"""Gates: rules a candidate's metrics (and facts about it) must pass, one implementation for every
caller. `mlv model promote` checks them per model and stage; `mlv gate` (CI) checks the `gate:`
rules of the configuration with the same engine.

`rules` and `evaluate` are pure logic: no git, no files. Callers gather the facts (`Facts`) and get
one `RuleResult` per rule: `mlv.registry.actions` for promotion, `mlv.gate.gate` for `mlv gate`
(it reads the experiments, resolves and in a shallow clone fetches the base, and runs the data
check).
"""

from mlv.gates.evaluate import Facts, RuleResult, evaluate, failed
from mlv.gates.rules import GatePolicy, MetricRule, lower_is_better_by_name, parse_policy

__all__ = ["Facts", "GatePolicy", "MetricRule", "RuleResult", "evaluate", "failed",
           "lower_is_better_by_name", "parse_policy"]
