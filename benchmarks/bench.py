"""``make bench``: ONE markdown table, each figure beside its baseline from the same run.

Run: ``.venv/bin/python benchmarks/bench.py [--scale SCALE] [--only event,recommend] ...``

Rows (ours vs baseline; the ratio is ours / baseline, "ours is" reads it the right way round):

1. embedding throughput: ``MiniLM()`` texts/s vs the naive onnxruntime loop (batches of 64 in
   input order), on the first ``--texts`` MovieLens texts.
2. one event on an ingested embedded store: ``rec.view`` (event log append + persisted profile)
   p50/p95 ms vs a bare Chroma ``upsert`` of one vector.
3. ``rec.recommend(user, n=10)`` with seen items excluded, p50/p95 ms, vs raw Chroma top-10 (no
   exclusion) and vs exact numpy top-10 (seen excluded).
4. bulk ``rec.ingest`` of the 100,004 MovieLens events vs the single-event methods on a sample
   of whole user histories (``--sample`` events), extrapolated linearly to 100,004.
5. rows 2 and 3's ``rec.view`` / ``rec.recommend`` through a ``chroma run`` server (HttpClient)
   vs the embedded figures of rows 2 and 3.

Each section runs in its own process (``--section NAME``, internal) so that its peak RSS
(``ru_maxrss`` of that process, and of its Chroma server in row 5) is its own. The machine is
shared and timings are noisy: compare the ratios of one run, not absolute figures across runs.
Latencies are sampled interleaved (shuffled method order per call, ``--users`` users from the
lightest to the heaviest history, ``--event-repeats`` rounds of writes, ``--repeats`` rounds of
queries), so load hits figure and baseline alike. Row 5's server figures come from their own
process, run after rows 2 and 3: its ratios carry the load drift between sections.

``--scale 100k`` / ``--scale 1M`` run ``benchmarks/scale.py`` instead (the scale study).
"""

from __future__ import annotations

# Only the standard library up here: an unsupported --scale must fail fast, before numpy,
# pandas, chromadb or onnxruntime load.
import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
OUT = REPO / "build" / "bench.md"
SCALES = {"": "default", "default": "default", "100k": "100k", "1M": "1M"}
SECTIONS = ("embeddings", "event", "recommend", "ingest", "server")
SCALE_SCRIPT = HERE / "scale.py"


def scale_error(scale: str) -> str | None:
    """The one-line error for an unsupported scale, or None when it is supported."""
    if scale.strip() in SCALES:
        return None
    return f"SCALE={scale!r} is not supported; use one of: default (unset), 100k, 1M"


def run_scale(scale: str) -> int:
    """Hand a large scale over to ``benchmarks/scale.py`` (its own process and output)."""
    if not SCALE_SCRIPT.exists():
        print(f"SCALE={scale} needs {SCALE_SCRIPT.relative_to(REPO)}, which is not in this "
              "checkout yet; `make bench` without SCALE prints the default table", file=sys.stderr)
        return 1
    return subprocess.call([sys.executable, str(SCALE_SCRIPT), "--scale", scale])


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", default="", help='"" or default (this table), 100k, 1M (scale.py)')
    p.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections to run")
    p.add_argument("--texts", type=int, default=1000, help="row 1: MovieLens texts embedded")
    p.add_argument("--rounds", type=int, default=1, help="row 1: alternating timed rounds")
    p.add_argument("--users", type=int, default=20, help="rows 2/3/5: users timed")
    p.add_argument("--repeats", type=int, default=10, help="rows 3/5: recommend calls per user")
    # Writes cost ~10x a query on this machine class: fewer rounds keep `make bench` in budget.
    p.add_argument("--event-repeats", type=int, default=5, help="rows 2/5: views per user")
    p.add_argument("--sample", type=int, default=500, help="row 4: events sent one by one")
    p.add_argument("--seed", type=int, default=0, help="seed of samples and call orders")
    p.add_argument("--out", type=Path, default=OUT, help="markdown file written")
    p.add_argument("--section", choices=SECTIONS, help=argparse.SUPPRESS)  # the child's job
    p.add_argument("--json", type=Path, help=argparse.SUPPRESS)  # where the child writes
    return p.parse_args(argv)


def run_section(args: argparse.Namespace) -> int:
    """In the child: measure one section, add its own peak RSS, write the JSON."""
    import warnings

    from bench_sections import SECTIONS as FUNCTIONS

    warnings.filterwarnings("ignore", category=UserWarning)  # overshoot warnings during ingest
    result = FUNCTIONS[args.section](args)
    result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    args.json.write_text(json.dumps(result))
    return 0


def child_command(args: argparse.Namespace, name: str, out: Path) -> list[str]:
    """This script again, measuring section ``name`` with the parent's sample sizes."""
    sizes = [f"--{k.replace('_', '-')}={getattr(args, k)}"
             for k in ("texts", "rounds", "users", "repeats", "event_repeats", "sample", "seed")]
    return [sys.executable, str(Path(__file__).resolve()), "--section", name, "--json", str(out),
            *sizes]


def run_sections(args: argparse.Namespace, names: list[str]) -> tuple[dict, dict, list[str]]:
    """Each section in its own process; returns (results, (wall, CPU) seconds, failed)."""
    # The children import recsys_nb from this checkout, not whichever one the venv points at.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)}
    env.pop("CHROMA_HOST", None)  # embedded rows must be embedded; row 5 sets its own
    results, seconds, failed = {}, {}, []
    with tempfile.TemporaryDirectory(prefix="bench_") as tmp:
        for i, name in enumerate(names, 1):
            print(f"== {i}/{len(names)} {name} ...", flush=True)
            out = Path(tmp) / f"{name}.json"
            start, cpu = time.perf_counter(), _children_cpu()
            code = subprocess.call(child_command(args, name, out), env=env, cwd=REPO)
            seconds[name] = (time.perf_counter() - start, _children_cpu() - cpu)
            if code or not out.exists():
                print(f"   section {name} FAILED (exit status {code})", flush=True)
                failed.append(name)
                continue
            results[name] = json.loads(out.read_text())
            print(f"   {seconds[name][0]:.0f} s", flush=True)
    return results, seconds, failed


def _children_cpu() -> float:
    """CPU seconds (user + system) of every child waited for so far, servers included."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def version(dist: str) -> str:
    """The installed version of a distribution, read without importing it."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def facts(load_before: tuple[float, ...]) -> str:
    """Machine facts, once, above the table."""
    from bench_embeddings import cpu_flags

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                                capture_output=True, text=True).stdout.strip() or "unknown"
    except OSError:
        commit = "unknown"
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    after = os.getloadavg()
    return (
        f"- date {now}, commit {commit}, {os.cpu_count()} cores, CPU flags: {cpu_flags()}\n"
        f"- load average (1/5/15 min): {' / '.join(f'{x:.2f}' for x in load_before)} at start, "
        f"{' / '.join(f'{x:.2f}' for x in after)} at end\n"
        f"- chromadb {version('chromadb')}, onnxruntime {version('onnxruntime')}, "
        f"numpy {version('numpy')}, Python {platform.python_version()}"
    )


def run_all(args: argparse.Namespace) -> int:
    """Every section in turn, then the table: printed and written to ``--out``."""
    from bench_table import render, rows_from_results

    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(names) - set(SECTIONS))
    if unknown:
        print(f"unknown section(s) {unknown}; known: {', '.join(SECTIONS)}", file=sys.stderr)
        return 2
    load_before = os.getloadavg()
    start = time.perf_counter()
    results, seconds, failed = run_sections(args, names)
    total = time.perf_counter() - start
    # CPU time beside wall time: on a shared machine the wall time says more about the others.
    timing = ", ".join(f"{n} {w:.0f} s (CPU {c:.0f} s)" for n, (w, c) in seconds.items())
    text = "\n".join([
        "## make bench: ours vs baselines, same run", "",
        facts(load_before),
        f"- wall time {total:.0f} s: {timing}; each section in its own process, peak RSS its own",
        "", render(rows_from_results(results)), "",
        "Ratios compare figures of this run only (timings on a shared machine are noisy). "
        "Latencies: p50/p95 over interleaved calls "
        f"({args.users} users x {args.event_repeats} rounds for views and upserts, "
        f"x {args.repeats} for recommend and its baselines). Row 4's one-by-one figure is "
        "EXTRAPOLATED linearly from its sample. How each row is measured: "
        "benchmarks/bench.py's docstring; detail: benchmarks/bench_*.py.",
    ])
    if failed:
        text += f"\n\nFAILED sections (left out): {', '.join(failed)}"
    print("\n" + text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n", encoding="utf-8")
    print(f"\nwritten to {args.out}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    error = scale_error(args.scale)
    if error:
        print(error, file=sys.stderr)
        return 2
    sys.path.insert(0, str(REPO))  # this checkout's recsys_nb, also in this process
    if args.section:
        return run_section(args)
    if SCALES[args.scale.strip()] != "default":
        return run_scale(args.scale.strip())
    return run_all(args)


if __name__ == "__main__":
    sys.exit(main())
