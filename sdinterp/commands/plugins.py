"""``sdinterp plugins``: list loaded plugins, their distribution and version, and what they add."""

from __future__ import annotations

import argparse
import json


def run(args: argparse.Namespace) -> int:
    from sdinterp.plugin_manager import get_registry, list_plugins

    rows = list_plugins()
    registry = get_registry()
    owned: dict[str, list[str]] = {}
    for kind, name in registry:
        owned.setdefault(registry.owner(kind, name), []).append(f"{kind}:{name}")
    if args.json:
        print(json.dumps([dict(r, registers=owned.get(r["name"], [])) for r in rows], indent=2))
        return 0
    width = max([len(r["name"]) for r in rows] + [6])
    dwidth = max([len(f"{r['distribution']} {r['version']}") for r in rows] + [12])
    print(f"{'plugin'.ljust(width)}  {'distribution'.ljust(dwidth)}  hooks / registers")
    for r in rows:
        dist = f"{r['distribution']} {r['version']}".strip()
        if r["error"]:
            print(f"{r['name'].ljust(width)}  {dist.ljust(dwidth)}  FAILED TO LOAD: {r['error']}")
            continue
        extra = ", ".join(owned.get(r["name"], []))
        print(f"{r['name'].ljust(width)}  {dist.ljust(dwidth)}  {', '.join(r['hooks'])}{'; ' + extra if extra else ''}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plugins", help="list loaded plugins with their distribution and version")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    p.set_defaults(func=run)
