"""One handler per ``enlace`` command; ``run`` picks it from the parsed arguments."""

from __future__ import annotations

import argparse

from client.commands import admin, contact_point, directory, national

_MODULES = (contact_point, directory, admin, national)


async def run(args: argparse.Namespace) -> int:
    name = args.command
    for group in ("directory", "admin", "national", "keys"):
        if name == group:
            name = f"{group}_{getattr(args, group + '_command')}"
    name = name.replace("-", "_")

    if name == "demo":
        from client import demo
        return await demo.run(keep=args.keep)
    for module in _MODULES:
        handler = getattr(module, f"handle_{name}", None)
        if handler is not None:
            return await handler(args)
    raise LookupError(f"no handler for command {name}")
