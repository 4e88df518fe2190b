"""docs/benchmarks.md: machine, method, targets, results, growth and notes, from one run."""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from benchmarks.context import Case, Profile
from benchmarks.measure import Measurement
from benchmarks.targets import TITLES, evaluate

TOOLS = ("mlv", "dvc", "floor")


def machine(work_dir: Path) -> dict[str, str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal"))
        ram = f"{mem_kb / 1024**2:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        ram = "?"
    disk = "?"
    proc = subprocess.run(["findmnt", "-n", "-o", "SOURCE,FSTYPE,SIZE,OPTIONS", "--target", str(work_dir)],
                          capture_output=True, text=True, check=False)
    if proc.returncode == 0 and proc.stdout.strip():
        source, fstype, size, options = (proc.stdout.split() + ["?"] * 4)[:4]
        dev = Path(source).name
        rotational = Path(f"/sys/block/{dev}/queue/rotational")
        kind = ""
        if rotational.exists():
            kind = ", rotational" if rotational.read_text().strip() == "1" else ", non-rotational"
        disk = f"{fstype} on {source} ({size}{kind}; mount options {options})"
    return {"CPU": f"{cpu}, {os.cpu_count()} cores", "RAM": ram, "Disk": disk,
            "OS": platform.platform()}


def _cell(m: Measurement | None) -> str:
    if m is None:
        return "-"
    if not m.ok:
        return m.status
    if len(m.samples) == 1:
        return f"{m.median:.3f} s (1 run)"
    return f"{m.median:.3f} s ({m.low:.3f}-{m.high:.3f})"


def _ratio(a: Measurement | None, b: Measurement | None) -> str:
    if a is None or b is None or not a.ok or not b.ok or b.median == 0:
        return "-"
    return f"{a.median / b.median:.2f}x"


def _rss(m: Measurement | None) -> str:
    if m is None or not (m.samples or m.warmup):
        return "-"
    return f"{m.peak_rss_mb:.0f}"


def render(cases: Sequence[Case], profile: Profile, info: Mapping[str, object]) -> str:
    versions = info.get("versions", {})
    assert isinstance(versions, dict)
    lines = [
        "# Benchmarks: mlv against DVC and against the physical floor",
        "",
        f"Written by `make bench` (`python -m benchmarks.run --{profile.name}`) on {info.get('date')}; "
        f"the whole run took {info.get('elapsed_min', '?')} minutes ({_generated(info)}). "
        "Every number below comes from that run.",
        "",
        "## Machine",
        "",
        "| | |",
        "| --- | --- |",
    ]
    for key, value in {**machine(Path(str(info.get("work_dir", "."))))}.items():
        lines.append(f"| {key} | {value} |")
    for key in ("python", "git", "dvc", "mlv", "md5sum"):
        lines.append(f"| {key} | {versions.get(key, '?')} |")
    lines += ["", "## Method", "", *_method(profile, info), "", "## Targets", "",
              "| target | measured | met |", "| --- | --- | --- |"]
    for v in evaluate(cases):
        met = "not measured" if v.met is None else ("**met**" if v.met else "**not met**")
        lines.append(f"| {v.target} | {v.measured} | {met} |")
    lines += ["", "## Results", "",
              "Median (min-max) wall time in seconds; ratios are of medians; peak RSS in MB.", "",
              "| operation | dataset | mlv | DVC | floor | mlv/DVC | mlv/floor | RSS mlv | RSS DVC |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for c in cases:
        ms = c.measurements
        m, d, f = (ms.get(t) for t in TOOLS)
        lines.append(f"| {TITLES.get(c.op, c.op)} | {c.dataset} | {_cell(m)} | {_cell(d)} | {_cell(f)} | "
                     f"{_ratio(m, d)} | {_ratio(m, f)} | {_rss(m)} | {_rss(d)} |")
    lines += ["", *_derived(cases), "", *_growth(cases), "", "## What each row runs", ""]
    for c in cases:
        commands = "; ".join(f"{t}: `{m.label}`" for t, m in c.measurements.items())
        notes = [c.note] if c.note else []
        notes += [f"{t}: {m.note}" for t, m in c.measurements.items() if m.note]
        lines.append(f"- **{TITLES.get(c.op, c.op)}, {c.dataset}**: {commands}."
                     + (f" {'; '.join(notes)}." if notes else ""))
    crashes = info.get("crashes") or []
    if crashes:
        lines += ["", "## Operations that crashed in this run", "", *[f"- {c}" for c in crashes]]
    serve = info.get("serve")
    if serve:
        lines += ["", "## Serving: `mlv serve` against `mlflow models serve` (`python -m benchmarks.serve`)", "",
                  str(serve).strip()]
    lines += ["", "## Plot", "", "![time against dataset size, mlv against DVC](benchmarks.png)", ""]
    notes = info.get("findings")
    if notes:
        lines += ["", str(notes).strip(), ""]
    return "\n".join(lines)


def _method(profile: Profile, info: Mapping[str, object]) -> list[str]:
    return [
        f"- Every operation runs the real executables as child processes (`.venv/bin/mlv`, `.venv/bin/dvc`, "
        f"`git`, `md5sum`): {profile.warmup} warm-up run(s), then {profile.runs} timed runs; the table gives "
        "their median, min and max. Set-up between runs (a fresh repository for a first snapshot, changing "
        "a file) is not timed.",
        "- Peak memory is each command's own `ru_maxrss` from `wait4`, which includes the descendants it "
        "waited for (shells, mlv's environment probe, git hooks). Each command is launched through GNU "
        "`time -f %M`, a small process, because Linux carries a parent's peak over to its forked children: "
        "measured straight from the Python harness, every command would report at least the harness's "
        "own size. A row made of several commands (DVC's `dvc add` + `git add` + `git commit`) sums their "
        "times and takes the largest peak.",
        "- Floors: `md5sum` reading the same bytes once (first snapshot), a bare `git commit` (snapshot "
        "with nothing changed), `git diff --stat`, `git log`, `git checkout`, git with no hooks, "
        "`python -c pass` (start-up), and the experiment's own command (reproduce).",
        "- Datasets, generated from fixed seeds into the work folder: "
        f"{info.get('datasets', '?')}. Small files are 4,000 bytes of hex text, 1,000 to a folder. The "
        f"repositories track: {info.get('scenarios', '?')} (the targets of issues 2 and 3 are stated on "
        "one 1 GiB file plus 10,000 small files).",
        "- mlv and DVC each get their own repository on the same data, with their own cache and state "
        "(DVC's site cache folder is per repository, so a fresh repository really starts cold). "
        "DVC runs with its default cache type (reflink, falling back to copy on ext4).",
        "- Page cache: the machine has far more RAM than the data, but this virtual machine pages out memory "
        "left idle for about a minute (DAMON reclaim), so data untouched for a while is read from the virtual "
        "disk again. The warm-up run of each operation brings it back; the timed runs follow at once.",
        f"- Load average (1 min) when the run started: {info.get('load_start', '?')}; when it ended: "
        f"{info.get('load_end', '?')} (2 cores: other work on the machine slows every tool alike).",
    ]


def _growth(cases: Sequence[Case]) -> list[str]:
    rows = []
    for op in ("first", "noop", "change1", "diff", "checkout"):
        small = next((c for c in cases if c.op == op and c.key == "10k"), None)
        large = next((c for c in cases if c.op == op and c.key == "100k"), None)
        if small is None or large is None:
            continue
        cells = []
        for tool in ("mlv", "dvc"):
            a, b = small.measurements.get(tool), large.measurements.get(tool)
            ok = a is not None and b is not None and a.ok and b.ok
            cells += [_cell(a), _cell(b), f"{b.median / a.median:.1f}x" if ok and a and b else "-"]
        rows.append(f"| {TITLES.get(op, op)} | " + " | ".join(cells) + " |")
    if not rows:
        return []
    return ["## Growth from 10,000 to 100,000 files", "",
            "First snapshot: the folder of small files alone. Other rows: the folder plus the 1 GiB file. "
            "Incremental operations should grow with the number of changed files (one, or ten for diff), "
            "not with the total.", "",
            "| operation | mlv 10k | mlv 100k | growth | DVC 10k | DVC 100k | growth |",
            "| --- | --- | --- | --- | --- | --- | --- |", *rows]


def _generated(info: Mapping[str, object]) -> str:
    generated = info.get("generated")
    if not generated:
        return "datasets reused from an earlier run"
    assert isinstance(generated, list)
    return "datasets generated: " + ", ".join(map(str, generated))


def _median(cases: Sequence[Case], op: str, key: str, tool: str) -> float | None:
    case = next((c for c in cases if c.op == op and c.key == key), None)
    m = case.measurements.get(tool) if case else None
    return m.median if m is not None and m.ok else None


def _derived(cases: Sequence[Case]) -> list[str]:
    """Differences of medians that the targets are stated on: what a hook or reproduce adds."""
    rows = []
    for op, what in (("hook-commit", "`git commit`"), ("hook-checkout", "`git checkout`, pointers unchanged")):
        base = _median(cases, op, "10k", "floor")
        for tool, name in (("mlv", "mlv's hooks"), ("dvc", "DVC's hooks")):
            value = _median(cases, op, "10k", tool)
            if base is not None and value is not None:
                rows.append(f"| {name} add to {what} | {(value - base) * 1000:.0f} ms |")
    run, alone = _median(cases, "reproduce", "10k", "mlv"), _median(cases, "reproduce", "10k", "floor")
    if run is not None and alone is not None:
        rows.append(f"| `mlv reproduce` overhead (total minus the command alone) | {run - alone:.3f} s |")
    first, md5 = _median(cases, "first", "1gib", "mlv"), _median(cases, "first", "1gib", "floor")
    dvc_first = _median(cases, "first", "1gib", "dvc")
    if first is not None and md5 is not None:
        rows.append(f"| first snapshot of the 1 GiB file, mlv / md5sum | {first / md5:.2f}x |")
    if dvc_first is not None and md5 is not None:
        rows.append(f"| first snapshot of the 1 GiB file, DVC / md5sum | {dvc_first / md5:.2f}x |")
    if not rows:
        return []
    return ["## Derived figures", "", "Differences and ratios of the medians above (dataset: the 1 GiB file "
            "plus 10,000 files, or the 1 GiB file alone).", "", "| figure | value |", "| --- | --- |", *rows]
