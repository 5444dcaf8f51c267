"""The `loadtest` command: `serve`, `bench`, `report`, `compare`.

Each subcommand lives with its layer and exposes ``add_arguments(parser)`` and ``run(args) -> int``;
this module only wires them together, importing each lazily so `loadtest serve` never loads Locust.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("loadtest.server.cli", "run the OpenHands-compatible reference server"),
    "bench": ("loadtest.bench", "headless benchmark: reference server (or --target) + Locust + report"),
    "report": ("loadtest.report.cli", "rebuild plots, summary and report.html from a run folder"),
    "compare": ("loadtest.report.compare_cli", "compare two run folders; exit 3 on a regression"),
    "mock-llm": ("loadtest.mockllm.cli", "run an OpenAI-compatible mock LLM for real OpenHands servers"),
    "openhands": ("loadtest.realoh.cli", "bring a real OpenHands 1.6.0 server up or down on loopback"),
}

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_SLO = 0, 1, 2, 3


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="loadtest",
        description="Load and rate-limit testing for servers that speak the OpenHands WebSocket API.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        if only is not None and name != only:
            sub.add_parser(name, help=help_text, add_help=False)
            continue
        module = importlib.import_module(module_name)
        sp = sub.add_parser(
            name,
            help=help_text,
            description=(module.__doc__ or help_text).strip().splitlines()[0],
            formatter_class=argparse.RawDescriptionHelpFormatter,
            epilog=getattr(module, "EPILOG", None),
        )
        module.add_arguments(sp)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in args_list if not a.startswith("-")), None)
    parser = build_parser(only=command if command in SUBCOMMANDS else None)
    if command not in SUBCOMMANDS:
        parser.print_help(sys.stderr if command else sys.stdout)
        if command is not None:
            print(f"\nloadtest: unknown command {command!r}; choose one of {', '.join(SUBCOMMANDS)}", file=sys.stderr)
            return EXIT_USAGE
        return EXIT_OK if "-h" in args_list or "--help" in args_list else EXIT_USAGE
    args = parser.parse_args(args_list)
    module = importlib.import_module(SUBCOMMANDS[command][0])
    return int(module.run(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
