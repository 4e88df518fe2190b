"""Compare the environment that will run a re-run with the one an experiment recorded."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mlv.env.environment import Environment

# Platform facts compared one by one; `platform` (kernel and libc) changes between machines more
# often than it matters, but a reader deciding whether to trust a verdict wants to see it.
_FACTS = ("python", "implementation", "os", "machine", "platform")


@dataclass(frozen=True)
class Mismatch:
    kind: str  # python | implementation | os | machine | platform | package
    name: str  # the fact, or the package (normalised name)
    recorded: str | None  # None: the package was not in the recorded environment (added)
    current: str | None  # None: the package is missing now (removed)

    @property
    def change(self) -> str:
        if self.recorded is None:
            return "added"
        if self.current is None:
            return "removed"
        return "changed"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "change": self.change}

    def describe(self) -> str:
        if self.kind != "package":
            return f"{self.name}: recorded {self.recorded}, now {self.current}"
        if self.change == "added":
            return f"package {self.name} {self.current} is installed now but was not recorded"
        if self.change == "removed":
            return f"package {self.name} {self.recorded} was recorded but is not installed now"
        return f"package {self.name}: recorded {self.recorded}, now {self.current}"


def compare(recorded: Environment, recorded_packages: dict[str, str], current: Environment) -> list[Mismatch]:
    """Every difference: platform facts first, then packages added, removed or at another version."""
    found = [
        Mismatch(fact, fact, str(getattr(recorded, fact)), str(getattr(current, fact)))
        for fact in _FACTS
        if str(getattr(recorded, fact)) != str(getattr(current, fact))
    ]
    now = current.package_versions()
    for name in sorted(set(recorded_packages) | set(now)):
        old, new = recorded_packages.get(name), now.get(name)
        if old != new:
            found.append(Mismatch("package", name, old, new))
    return found
