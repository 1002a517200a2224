"""What every result file says about itself: the command that made it, the facsnet version, the host
and the date, and (where the writer knows them) the data's fingerprint and the weights' digest.

The CLI records its own command line with :func:`set_command`; a result made from Python says so.
"""
from __future__ import annotations

import shlex
import sys
from datetime import date

_COMMAND: list[str] | None = None


def set_command(argv: list[str] | None) -> None:
    """Remember the command line this process was started with (``facsnet VERB ...``)."""
    global _COMMAND
    _COMMAND = ["facsnet", *(sys.argv[1:] if argv is None else argv)]


def command() -> str:
    return shlex.join(_COMMAND) if _COMMAND else f"python ({shlex.join(sys.argv[:1])}, through the facsnet API)"


def provenance(**known) -> dict:
    """The record a result file carries under the key ``provenance``; ``known`` adds what the writer
    knows (e.g. ``data_fingerprint``, ``weights_sha256``), leaving out what is None."""
    from importlib.metadata import PackageNotFoundError, version

    from .hardware import cpu_info

    try:
        release = version("facsnet")
    except PackageNotFoundError:   # run from a source tree that was never installed
        release = "unknown"
    return {"command": command(), "facsnet": release, "host": cpu_info().describe(),
            "date": date.today().isoformat(), **{k: v for k, v in known.items() if v is not None}}
