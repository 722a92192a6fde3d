"""``make bench``: run every quick benchmark, then gather their tables into benchmarks/results/SUMMARY.md and the
README's benchmark section (between the ``bench:start`` / ``bench:end`` markers).

Each benchmark is its own script writing ``results/<name>.json`` and ``results/<name>.md``; a script that
fails is reported and the others still run. ``--only data,render`` runs a subset; ``--collect`` only
gathers the tables already written (e.g. the quality race's, which ``make bench-quality`` produces).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
README = HERE.parent / "README.md"
BENCHMARKS = {  # name -> script and arguments, in the order the summary shows them
    "data": ["bench_data.py"],
    "training": ["bench_training.py"],
    "render": ["bench_render.py"],
    "metrics": ["bench_metrics.py", "--quick"],
    "studio": ["bench_studio.py"],
    "inversion": ["bench_inversion.py"],
    "motion": ["bench_motion.py"],
}
#: Tables of the results folder, by their path in it without ``.md``.
SUMMARY_ORDER = [*BENCHMARKS, "quality_race", "race-xeon/quality_race", "race-avx512/quality_race",
                 "race-variants/quality_race"]
#: A Markdown link or image to a relative path (not a web address, not an anchor).
RELATIVE_LINK = re.compile(r"\]\((?![a-z]+:|/|#)")
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def machine_line() -> str:
    import torch

    return (f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"torch {torch.__version__}, {datetime.date.today().isoformat()}")


def run(names: list[str]) -> list[str]:
    failed = []
    for name in names:
        script, *args = BENCHMARKS[name]
        if not (HERE / script).is_file():
            continue
        print(f"== benchmark {name}", flush=True)
        if subprocess.run([sys.executable, str(HERE / script), *args]).returncode != 0:
            failed.append(name)
    return failed


def demoted_headings(markdown: str) -> str:
    """A results file's headings two levels down, so its title sits under the README's "Benchmarks" (its
    per-CPU sections one level below the title)."""
    return "\n".join("##" + line if line.startswith("#") else line for line in markdown.splitlines())


def relink(markdown: str, folder: Path) -> str:
    """``markdown``'s relative links, made relative to the folder above ``folder``."""
    return markdown if folder == Path(".") else RELATIVE_LINK.sub(f"]({folder.as_posix()}/", markdown)


def collect() -> str:
    sections = []
    for name in SUMMARY_ORDER:
        table = RESULTS / f"{name}.md"
        if table.is_file():
            text = relink(table.read_text(encoding="utf-8").strip(), table.parent.relative_to(RESULTS))
            sections.append(demoted_headings(text))
    return f"Machine: {machine_line()}.\n\n" + "\n\n".join(sections) + "\n"


def update_readme(summary: str) -> None:
    text = README.read_text(encoding="utf-8")
    if START in text and END in text:
        head, rest = text.split(START, 1)
        _, tail = rest.split(END, 1)
        README.write_text(f"{head}{START}\n{summary}{END}{tail}", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", help="comma-separated subset of: " + ", ".join(BENCHMARKS))
    parser.add_argument("--collect", action="store_true", help="only gather the tables already written")
    args = parser.parse_args()
    names = [n for n in (args.only.split(",") if args.only else BENCHMARKS) if n]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}")
    failed = [] if args.collect else run(names)
    summary = collect()
    (RESULTS / "SUMMARY.md").write_text("# Benchmark summary\n\n" + summary, encoding="utf-8")
    update_readme(relink(summary, RESULTS.relative_to(README.parent)))  # links relative to the README
    print(f"wrote {RESULTS / 'SUMMARY.md'} and the README's benchmark section")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
