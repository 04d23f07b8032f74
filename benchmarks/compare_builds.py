"""Two builds of spatial_ops side by side: the kernels alone
(benchmarks/test_bench_kernels.py: one thread, in cache, every activation,
dtype and pass) in a process of each build, the builds taking turns for
--rounds rounds, and whether every output is bitwise the same.

    .venv/bin/python benchmarks/compare_builds.py OLD NEW [--rounds 2] [-k PYTEST_SELECTION]

OLD and NEW are folders holding an installed `spatial_ops` package (for
example `pip install --no-deps --target /tmp/old <checkout>`). Prints ns per
element, the lowest over rounds of each process' median, and new/old."""

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import run_session  # noqa: E402


def per_case(path):
    """{case: (ns per element, digest)} of one session's JSON."""
    benchmarks = json.loads(Path(path).read_text())["benchmarks"]
    return {
        b["name"]: (b["stats"]["median"] * 1e9 / b["extra_info"]["elements"], b["extra_info"]["digest"])
        for b in benchmarks
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("-k", dest="selection", help="pytest -k expression over test_kernels' cases")
    parser.add_argument("--quick", action="store_true", help="tiny inputs, one call each (CI's smoke run)")
    args = parser.parse_args()
    runs = {"old": [], "new": []}
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(args.rounds):
            for which in runs:
                environment = {"PYTHONPATH": str(Path(getattr(args, which)).resolve())}
                extra = ["-k", args.selection] if args.selection else []
                run_session(f"{which}-{round_}", ["kernels"], environment, [], Path(folder), args.quick, extra)
                runs[which].append(per_case(Path(folder) / f"{which}-{round_}.json"))
    best = {which: {case: min(r[case][0] for r in rounds) for case in rounds[0]} for which, rounds in runs.items()}
    differ = [case for case in runs["old"][0] if runs["old"][0][case][1] != runs["new"][0][case][1]]
    print("| case | old ns/el | new ns/el | new/old |\n|---|---|---|---|")
    for case, old in best["old"].items():
        print(f"| {case} | {old:.3f} | {best['new'][case]:.3f} | {best['new'][case] / old:.2f} |")
    print(f"\noutputs bitwise equal: {'all' if not differ else 'not ' + ', '.join(differ)}")


if __name__ == "__main__":
    main()
