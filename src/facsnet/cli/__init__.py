"""``facsnet`` command line: a thin shell over :mod:`facsnet.api` (one subcommand per function).

``options`` holds the argparse machinery, ``parser`` every verb's options (defaults read from the
API), ``main`` the dispatch and the printing of results."""
from .main import main, parse
from .parser import build_parser

__all__ = ["main", "parse", "build_parser"]
