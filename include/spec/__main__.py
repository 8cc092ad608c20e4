"""``python -m include.spec check usecase/X.yaml [...]``: every problem of each spec, exit 1
if any; ``python -m include.spec schema [out.json]``: the JSON Schema of a spec file."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from include.spec import SpecError, json_schema, load_spec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.spec", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="check spec files; print every problem")
    check.add_argument("paths", nargs="+", type=Path)
    schema = sub.add_parser("schema", help="write the JSON Schema of a spec file")
    schema.add_argument("out", nargs="?", type=Path, help="file to write (default: stdout)")
    args = parser.parse_args(argv)

    if args.command == "schema":
        text = json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
        if args.out is None:
            sys.stdout.write(text)
        else:
            args.out.write_text(text)
            print(f"wrote {args.out}")
        return 0
    failed = 0
    for path in args.paths:
        try:
            spec = load_spec(path)
        except SpecError as exc:
            failed += 1
            print(exc, file=sys.stderr)
            continue
        views = ", ".join(e.view for e in spec.features.entities.values())
        print(f"{path}: ok ({spec.name}: {len(spec.feeds)} feeds, views {views})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
