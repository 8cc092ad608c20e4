"""Land a development platform's first days from the spec's source, whatever it is.

``python -m devtools.land --start DATE --days N [--rows N] [--spec PATH]``: the spec's
``source`` says where batches come from: ``simulator`` (``devtools.simulator``, ``--rows``
per day) or ``replay`` (``devtools.replay``, a recorded dataset); no source: nothing lands
(production data arrives by itself). ``make run`` and ``make run-prod`` call this for their
first days.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence

from include.spec import load_spec


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.land", description=__doc__)
    parser.add_argument("--start", required=True, help="first day (YYYY-MM-DD)")
    parser.add_argument("--days", type=int, default=1, help="number of days (default 1)")
    parser.add_argument("--rows", help="events per day (simulator only; default: spec)")
    parser.add_argument("--spec", help="use-case spec YAML (default: settings)")
    args = parser.parse_args(argv)
    spec = load_spec(args.spec)
    common = ["--start", args.start, "--days", str(args.days)]
    common += ["--spec", args.spec] if args.spec else []
    if spec.source is None:
        print(f"{spec.path}: no source section: nothing to land")
        return 0
    if spec.source.kind == "replay":
        from devtools import replay

        dt.date.fromisoformat(args.start)
        return replay.main(common)
    from devtools import simulator

    rows = ["--rows", args.rows] if args.rows else []
    return simulator.main([*common, "--feed", "both", *rows])


if __name__ == "__main__":
    sys.exit(main())
