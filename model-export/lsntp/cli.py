"""What every command line of the project shares (the library's `python3 -m lsntp` and the study's
`python3 -m lsntp_study`): paths as the user typed them, `--set` overrides, and one way of ending
with `lsntp CMD: error: ...` and exit status 2 instead of a traceback. Imports nothing heavy."""
from __future__ import annotations

import os
import sys

from .errors import DataError


def user_path(p):
    """Paths on the command line are the user's: relative to where ./lsntp was started (LSNTP_CWD)."""
    if p is None or os.path.isabs(p):
        return p
    return os.path.join(os.environ.get("LSNTP_CWD", os.getcwd()), p)


def parse_set(items) -> dict:
    """`--set section.field=value` (or name=value) items as a dict of YAML values."""
    from .config import ConfigError
    out = {}
    for item in items or []:
        key, eq, value = item.partition("=")
        if not eq:
            raise ConfigError(f"--set takes section.field=value (or name=value), got '{item}'")
        import yaml
        out[key] = yaml.safe_load(value)
    return out


def run(parser, argv=None, install_hint: dict | None = None) -> int:
    """Parses argv and runs the chosen command (its `func`); a missing package or bad input ends with
    one line on stderr naming it, and exit status 2. install_hint: what a command lacking a package
    should install, by command name."""
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except ImportError as e:  # a package the command needs is not installed: say what to install, no traceback
        hint = (install_hint or {}).get(args.command, "model-export/install-deps.sh installs what is missing")
        print(f"lsntp {args.command}: error: the Python package '{e.name or e}' is not installed ({e}); {hint}", file=sys.stderr)
        return 2
    except (DataError, FileNotFoundError, ValueError) as e:  # ConfigError and MissingPackage are ValueErrors too
        print(f"lsntp {args.command}: error: {e}", file=sys.stderr)
        return 2
    return 0
