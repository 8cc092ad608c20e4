"""``python -m include.lineage --prediction-id X | --transaction-id Y [--json]``: the lineage
of one prediction, as text (or the JSON the console renders). Exit 1 when the chain breaks."""

from __future__ import annotations

import argparse
import json
import sys

from include.lineage import trace


def render(result: dict) -> str:
    lines = []
    for i, step in enumerate(result["steps"], 1):
        lines.append(f"{i}. [{step['kind']}] {step['title']}")
        lines.extend(f"     {k}: {v}" for k, v in step["fields"].items())
        lines.extend(f"     -> {link['text']}: {link['href']}" for link in step["links"])
    lines.append(f"MISSING: {result['missing']}" if result["missing"] else "complete")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.lineage", description=__doc__)
    parser.add_argument("--prediction-id", help="the request_id the service answered with")
    parser.add_argument("--transaction-id", help="a scored transaction's id")
    parser.add_argument("--json", action="store_true", help="print the JSON result")
    args = parser.parse_args(argv)
    if not (args.prediction_id or args.transaction_id):
        parser.error("give --prediction-id or --transaction-id")
    result = trace(args.prediction_id, args.transaction_id)
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 1 if result["missing"] else 0


if __name__ == "__main__":
    sys.exit(main())
