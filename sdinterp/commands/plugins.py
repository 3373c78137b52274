"""``sdinterp plugins``: list loaded plugins, their distribution and version, and what they add."""

from __future__ import annotations

import argparse
import json


def run(args: argparse.Namespace) -> int:
    from sdinterp.plugin_manager import get_registry, list_plugins, plugin_notes

    rows = list_plugins()
    registry = get_registry()
    owned: dict[str, list[str]] = {}
    for kind, name in registry:
        for reg in registry.owners(kind, name):
            owned.setdefault(reg.plugin, []).append(f"{kind}:{name}")
    notes = plugin_notes()
    if args.json:
        print(
            json.dumps(
                {"plugins": [dict(r, registers=owned.get(r["name"], [])) for r in rows], "problems": notes}, indent=2
            )
        )
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
    for note in notes:
        print(f"problem: {note}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plugins", help="list plugins with their distribution and version, and any that failed or clash")
    p.add_argument("--json", action="store_true", help="machine-readable output: {plugins, problems}")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    p.set_defaults(func=run)
