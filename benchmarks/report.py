"""Run every benchmark script and write ``docs/benchmarks.md`` from what they print.

Usage: ``make bench`` (every script, full length) or ``make bench QUICK=1`` (each script's smoke run), i.e.
``PYTHONPATH=. .venv/bin/python benchmarks/report.py [--quick] [--only bench_config ...]``. ``QUICK=1`` in the
environment means ``--quick`` too.

The page is regenerated as a whole: a header (machine, versions, date, how to reproduce), then one section per
``benchmarks/bench_*.py`` with the script's output: lines that form Markdown tables (``| a | b |``, or the
``a | b`` tables some scripts print with a ``---|---`` rule) become tables, everything else a text block.
Hand-written text survives: whatever stands between ``<!-- notes:KEY -->`` and ``<!-- /notes:KEY -->`` in the
current page is copied into the new one, where ``KEY`` is ``intro`` (after the header), ``<script>`` (before
the script's output: what it measures, the targets) or ``<script>:after`` (after it: the interpretation).
Notes of a script that no longer exists are kept at the end of the page. With ``--only``, the other scripts'
previous output is kept as it is; a script that fails keeps its previous output too, and the run exits 1.

This is a script, not a test: it never fails on a timing.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import importlib.metadata
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
PAGE = ROOT / "docs" / "benchmarks.md"

ORDER = (
    "bench_config",
    "bench_schedules",
    "bench_param_groups",
    "bench_checkpoint",
    "bench_engine_overhead",
    "bench_grad_accum",
    "bench_pipeline",
    "bench_ddp",
)
"""Section order; scripts not listed follow in alphabetical order."""

TITLES = {
    "bench_config": "Config loading",
    "bench_schedules": "Schedules",
    "bench_param_groups": "Parameter groups and the per-update schedule step",
    "bench_checkpoint": "Checkpoints",
    "bench_engine_overhead": "Engine overhead per update",
    "bench_grad_accum": "Gradient accumulation",
    "bench_pipeline": "Data pipelines",
    "bench_ddp": "DDP on CPU",
}
"""Section titles; other scripts get the first line of their docstring."""

QUICK_ARGS = {
    "bench_schedules": ["--steps", "1000", "--repeats", "3", "--curve-repeats", "1"],
    "bench_param_groups": [],
}
"""Arguments of a smoke run for scripts without ``--quick``; every other script gets ``--quick``."""

VERSIONED = ("torch", "numpy", "attrs", "cattrs", "ruamel.yaml", "ruamel.yaml.clib", "pydantic")
"""Distributions whose versions the header lists."""

NOTES = re.compile(r"<!-- notes:(?P<key>[\w:.-]+) -->\n(?P<text>.*?)<!-- /notes:(?P=key) -->\n?", re.DOTALL)
OUTPUT = re.compile(r"<!-- output:(?P<key>[\w.-]+) -->\n(?P<text>.*?)<!-- /output:(?P=key) -->\n?", re.DOTALL)
RULE = re.compile(r"^[\s|:-]*-[\s|:-]*$")
"""A table's separator row (``|---|---:|`` or ``-----|------``)."""


def scripts() -> list[str]:
    """The names (without ``.py``) of every ``benchmarks/bench_*.py``, in section order."""
    found = sorted(path.stem for path in BENCHMARKS.glob("bench_*.py"))
    return [name for name in ORDER if name in found] + [name for name in found if name not in ORDER]


def title_of(name: str) -> str:
    """The section title of a script."""
    if name in TITLES:
        return TITLES[name]
    docstring = ast.get_docstring(ast.parse((BENCHMARKS / f"{name}.py").read_text(encoding="utf-8"))) or name
    return docstring.strip().splitlines()[0].rstrip(".")


def arguments(name: str, quick: bool) -> list[str]:
    """The command-line arguments a script gets: none for a full run; its smoke-run arguments with ``quick``."""
    if not quick:
        return []
    if name in QUICK_ARGS:
        return QUICK_ARGS[name]
    return ["--quick"] if '"--quick"' in (BENCHMARKS / f"{name}.py").read_text(encoding="utf-8") else []


def command_line(name: str, args: list[str]) -> str:
    """How to run one script by hand, from the repository root."""
    return " ".join(["PYTHONPATH=. .venv/bin/python", f"benchmarks/{name}.py", *args])


def is_table_row(line: str) -> bool:
    """Whether a line is a row of a table: it has a ``|`` between two cells."""
    return "|" in line.strip().strip("|")


def as_markdown_row(line: str) -> str:
    """A table row with leading and trailing pipes (some scripts print ``a | b`` rows)."""
    cells = line.strip()
    if not cells.startswith("|"):
        cells = "| " + cells
    if not cells.endswith("|"):
        cells += " |"
    return cells


def to_markdown(output: str) -> str:
    """A script's stdout as Markdown: tables (a header row followed by a rule row) as tables, the rest in
    ``text`` blocks, blank-line runs collapsed."""
    lines = output.rstrip().splitlines()
    parts: list[str] = []
    text: list[str] = []

    def flush_text() -> None:
        while text and not text[-1].strip():
            text.pop()
        while text and not text[0].strip():
            text.pop(0)
        if text:
            parts.append("```text\n" + "\n".join(text) + "\n```")
        text.clear()

    index = 0
    while index < len(lines):
        line = lines[index]
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if is_table_row(line) and "|" in following and RULE.match(following):
            flush_text()
            table = [as_markdown_row(line), as_markdown_row(following)]
            index += 2
            while index < len(lines) and is_table_row(lines[index]):
                table.append(as_markdown_row(lines[index]))
                index += 1
            parts.append("\n".join(table))
            continue
        text.append(line)
        index += 1
    flush_text()
    return "\n\n".join(parts)


def machine() -> str:
    """One line about the machine: CPU model and count, memory, OS."""
    model, memory = platform.processor() or platform.machine(), ""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8")
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, flags=re.M)
        model = found.group(1).strip() if found else model
        meminfo = Path("/proc/meminfo").read_text(encoding="utf-8")
        kib = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, flags=re.M)
        memory = f", {int(kib.group(1)) / 2**20:.0f} GiB memory" if kib else ""
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({model}){memory}, {platform.system()} {platform.release()} ({platform.machine()})"


def versions() -> str:
    """Python and the versions of the distributions the benchmarks depend on."""
    found = []
    for name in VERSIONED:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return f"Python {platform.python_version()}, " + ", ".join(found)


def commit() -> str:
    """The checked-out commit (and ``+ changes`` when the tree is dirty), or ``""`` outside a git checkout."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError):
        return ""
    return head.stdout.strip() + (" + uncommitted changes" if dirty.stdout.strip() else "")


def run(name: str, args: list[str], timeout: float | None) -> tuple[int, str, float]:
    """Run one script from the repository root; its stderr goes to ours. Returns (status, stdout, seconds)."""
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    start = time.perf_counter()
    try:
        result = subprocess.run(
            [sys.executable, str(BENCHMARKS / f"{name}.py"), *args],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        output = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        return 124, output, time.perf_counter() - start
    return result.returncode, result.stdout, time.perf_counter() - start


def notes_block(key: str, notes: dict[str, str]) -> str:
    """A hand-written block (empty when there is none yet, so that one can be written in its place)."""
    text = notes.get(key, "")
    if text and not text.endswith("\n"):
        text += "\n"
    return f"<!-- notes:{key} -->\n{text}<!-- /notes:{key} -->\n"


def render(names: list[str], sections: dict[str, str], notes: dict[str, str], quick: bool, ran_at: str) -> str:
    """The whole page."""
    mode = (
        "**Smoke run** (`make bench QUICK=1`: few repetitions, numbers not for comparison)."
        if quick
        else "Full run (`make bench`)."
    )
    header = [
        "# Benchmarks",
        "",
        "<!-- Generated by benchmarks/report.py (`make bench`): edit only between the notes markers; the rest is "
        "rewritten on every run. -->",
        "",
        f"- Machine: {machine()}",
        f"- Versions: {versions()}",
        f"- Date: {ran_at}" + (f", commit {commit()}" if commit() else ""),
        f"- {mode}",
        "- Reproduce: `make bench` runs every script below and rewrites this page (`make bench QUICK=1` for a smoke "
        "run; `PYTHONPATH=. .venv/bin/python benchmarks/report.py --only bench_config` reruns one script); each "
        "section names the command that runs its script alone.",
        "",
        notes_block("intro", notes),
    ]
    body = []
    for name in names:
        body += [
            f"## {title_of(name)} (`benchmarks/{name}.py`)",
            "",
            notes_block(name, notes),
            sections[name],
            notes_block(f"{name}:after", notes),
        ]
    known = {"intro"} | set(names) | {f"{name}:after" for name in names}
    orphans = [key for key in notes if key not in known and notes[key].strip()]
    if orphans:
        body += ["## Notes of benchmarks that no longer exist", ""]
        body += [notes_block(key, notes) for key in orphans]
    return "\n".join(header + body).rstrip() + "\n"


def section(name: str, args: list[str], status: int, output: str, seconds: float, previous: str | None) -> str:
    """A script's generated part, inside its output markers."""
    if status == 0:
        content = f"`{command_line(name, args)}` ({seconds:.0f} s):\n\n{to_markdown(output)}\n"
    elif previous is not None:
        content = previous
    else:
        content = f"`{command_line(name, args)}` failed with exit status {status}; no previous output.\n"
        if output.strip():
            content += "\n" + to_markdown(output) + "\n"
    return f"<!-- output:{name} -->\n{content}<!-- /output:{name} -->\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="each script's smoke run (also: QUICK=1)")
    parser.add_argument("--only", nargs="+", metavar="SCRIPT", help="run only these scripts (e.g. bench_config)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per script (default: none)")
    parser.add_argument("--output", type=Path, default=PAGE, help="the page to write (default docs/benchmarks.md)")
    args = parser.parse_args()
    quick = args.quick or os.environ.get("QUICK", "") not in ("", "0")

    names = scripts()
    unknown = sorted(set(args.only or ()) - set(names))
    if unknown:
        parser.error(f"no such script in benchmarks/: {', '.join(unknown)} (available: {', '.join(names)})")
    current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
    notes = {match["key"]: match["text"] for match in NOTES.finditer(current)}
    previous = {match["key"]: match["text"] for match in OUTPUT.finditer(current)}

    failed, sections = [], {}
    for name in names:
        if args.only and name not in args.only:
            kept = previous.get(name, "not run yet.\n")
            sections[name] = f"<!-- output:{name} -->\n{kept}<!-- /output:{name} -->\n"
            continue
        script_args = arguments(name, quick)
        print(f"report: running {command_line(name, script_args)}", file=sys.stderr, flush=True)
        status, output, seconds = run(name, script_args, args.timeout)
        print(f"report: {name} finished with status {status} in {seconds:.1f} s", file=sys.stderr, flush=True)
        if status != 0:
            failed.append(name)
        sections[name] = section(name, script_args, status, output, seconds, previous.get(name))

    ran_at = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    args.output.write_text(render(names, sections, notes, quick, ran_at), encoding="utf-8")
    print(f"report: wrote {args.output}", file=sys.stderr)
    if failed:
        print(f"report: failed: {', '.join(failed)} (their previous output was kept)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
