"""python -m scripts COMMAND: every step of the workflow, as the Makefile runs it.

Each command is a thin layer over the package's modules, imported when it runs (so that
`tools-install` needs nothing but the standard library and uv); settings come from the environment
(settings.py), read once. A problem the user can fix ends the command with one line per problem
(what, where, how to fix; credentials masked) and exit status 1, never a traceback, and what the
commands write is written whole or not at all, so Ctrl-C or a full disk loses nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from .errors import UserError, mask_url
from .settings import (
    BEFORE_UPGRADE,
    DEV_LOCK,
    LOCK,
    MANIFEST,
    PLATFORM_TARGETS,
    SBOM,
    TOOLS_IN,
    TOOLS_LOCK,
    UPGRADE_REPORT,
    Settings,
)

EXAMPLES = """\
examples:
  python -m scripts links                  # list the releases of MODEL_REPOS
  python -m scripts compile                # requirements.txt from the .in files
  PACKAGES="spacy en_core_web_sm" python -m scripts compile --upgrade
  python -m scripts compile --dev          # requirements-dev.txt (the test tools)
  python -m scripts install --python .venv/bin/python requirements.txt
  python -m scripts verify                 # the checks of `make verify`
  python -m scripts audit                  # the locks' pins against OSV's advisories
  python -m scripts COMMAND --help         # a command's options

Settings come from the environment (make exports them; see `make help`): MODEL_REPOS,
MODEL_OWNERS, MODEL_INDEX_URL, INDEX_PACKAGES, GITHUB_API_URL, GITHUB_TOKEN,
GITHUB_TOKEN_<HOST>, FIND_LINKS, PRE, PACKAGES, RESOLVER, OSV_URL.
"""

# Each option once (as pip-tools' options.py): name -> (flags, argparse keywords).
OPTIONS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "quiet": (("-q", "--quiet"), {"action": "store_true", "help": "no progress lines"}),
    "upgrade": (
        ("-U", "--upgrade"),
        {
            "action": "store_true",
            "help": "re-pin to the newest versions the ranges allow (only PACKAGES, when set)",
        },
    ),
    "locks": (
        ("locks",),
        {
            "nargs": "*",
            "type": Path,
            "default": None,
            "metavar": "LOCK",
            "help": "compiled lock files (default: requirements.txt, and requirements-dev.txt "
            "when made)",
        },
    ),
    "dev": (("--dev",), {"action": "store_true", "help": "requirements-dev.txt instead"}),
    "no-warm": (
        ("--no-warm",),
        {
            "action": "store_true",
            "help": "no install follows: do not fill uv's cache while a big model downloads",
        },
    ),
    "check": (
        ("--check",),
        {
            "action": "store_true",
            "help": "compile both locks into scratch files; fail if either differs",
        },
    ),
    "python": (
        ("--python",),
        {"type": Path, "required": True, "help": "the environment's python"},
    ),
    "install-locks": (
        ("locks",),
        {"nargs": "+", "type": Path, "metavar": "LOCK", "help": "the locks to install"},
    ),
    "previous": (
        ("--previous",),
        {
            "metavar": "PATH_OR_URL",
            "help": "the last published index.json, whose hashes are kept (default: "
            "build/index/index.json, else MODEL_INDEX_URL's)",
        },
    ),
    "before": (
        ("before",),
        {
            "type": Path,
            "nargs": "?",
            "default": BEFORE_UPGRADE,
            "help": f"the old lock (default {BEFORE_UPGRADE}; missing: all added)",
        },
    ),
    "after": (
        ("after",),
        {"type": Path, "nargs": "?", "default": LOCK, "help": f"the new lock (default {LOCK})"},
    ),
    "output": (
        ("-o", "--output"),
        {
            "type": Path,
            "default": UPGRADE_REPORT,
            "help": f"where to save the report (default {UPGRADE_REPORT})",
        },
    ),
}


def option(parser: argparse.ArgumentParser, name: str) -> None:
    """Add the option ``name`` of OPTIONS to ``parser``."""
    flags, keywords = OPTIONS[name]
    parser.add_argument(*flags, **keywords)


def default_locks(given: list[Path] | None) -> list[Path]:
    """The locks a command was given, else requirements.txt and requirements-dev.txt (if made)."""
    return given or [LOCK, *([DEV_LOCK] if DEV_LOCK.is_file() else [])]


def links(settings: Settings, args: argparse.Namespace) -> int:
    """List the release files of MODEL_REPOS (or MODEL_INDEX_URL): build/model-links.html."""
    from . import listing

    listing.refresh(settings, args.quiet)
    return 0


def wheels(settings: Settings, args: argparse.Namespace) -> int:
    """Download the URLs of requirements-model.in.raw; write requirements-model.in."""
    from . import wheels

    wheels.fetch(args.quiet)
    return 0


def compile_locks(settings: Settings, args: argparse.Namespace) -> int:
    """Make requirements.txt (or requirements-dev.txt) when its inputs changed."""
    from . import backend

    backend.read_pip_config()  # a compile hands uv, or its hash lookup, the user's sources
    from . import lock

    if args.check:
        return lock.check_fresh(settings)
    lock.compile_lock(settings, args.dev, args.upgrade, args.quiet, warm=not args.no_warm)
    return 0


def install(settings: Settings, args: argparse.Namespace) -> int:
    """Fetch the pinned release files, check the locks, and make the environment match them."""
    from . import backend

    if settings.resolver == "uv":
        backend.read_pip_config()  # uv gets the user's pip sources: started first
    from . import install

    install.install(settings, args.python, args.locks)
    return 0


def verify(settings: Settings, args: argparse.Namespace) -> int:
    """Check the locks (pins, hashes, sources, secrets, release files), that they install on
    every platform of PLATFORMS, and their freshness."""
    from . import verify

    return verify.run(settings, default_locks(args.locks))


def audit(settings: Settings, args: argparse.Namespace) -> int:
    """Check every pin of the locks against OSV's advisories (OSV_URL) with pip-audit."""
    from . import audit

    return audit.run(settings, default_locks(args.locks))


def sbom(settings: Settings, args: argparse.Namespace) -> int:
    """Write build/sbom.cdx.json: a CycloneDX bill of materials of requirements.txt."""
    from . import sbom

    print(sbom.write(LOCK, SBOM))
    return 0


def export(settings: Settings, args: argparse.Namespace) -> int:
    """Write requirements-deploy.txt and pylock.toml: the locks plain pip installs anywhere."""
    from . import deploy, pylock

    deploy.export()
    try:
        pylock.export(settings)
    except UserError as exc:  # requirements-deploy.txt stands; pylock.toml is left as it was
        print(f"warning: {pylock.PYLOCK} was not written: {mask_url(str(exc))}", file=sys.stderr)
    return 0


def index(settings: Settings, args: argparse.Namespace) -> int:
    """Write build/index/: a static index of the models' release files, to publish."""
    from . import listing, publish

    # Listed through the API, never from MODEL_INDEX_URL (whose index.json gives only the hashes
    # already computed, see publish.py).
    assets = listing.refresh(replace(settings, index_url=""), args.quiet)
    publish.publish(settings, assets, args.previous)
    return 0


def report(settings: Settings, args: argparse.Namespace) -> int:
    """Write what changed between two locks, and its advisories (build/upgrade-report.md)."""
    from . import cooldown, report
    from .assets import read_manifest
    from .settings import RESOLVER_PAGE

    assets = read_manifest(MANIFEST, missing_ok=True)
    held = cooldown.held_back(settings, args.after, assets, RESOLVER_PAGE)  # COOLDOWN
    text = report.write(args.before, args.after, assets, args.output, settings.osv_url, held)
    if not args.quiet:
        print(text, end="")
    return 0


def tools_lock(settings: Settings, args: argparse.Namespace) -> int:
    """Re-pin the template's own tools (requirements-tools.in -> requirements-tools.txt)."""
    from . import backend, platforms

    backend.lock_tools(args.upgrade)
    # make runs on Linux and macOS (WSL on Windows): the tools' lock must install on each.
    where = replace(settings, platforms=tuple(n for n in PLATFORM_TARGETS if "windows" not in n))
    fix = f"Pin a version with a wheel for {{name}} in {TOOLS_IN}, then run `make tools-lock`"
    if problems := platforms.install_problems(where, [TOOLS_LOCK], [TOOLS_LOCK], fix):
        raise UserError("\n".join(problems))
    print(f"tools-lock: {TOOLS_LOCK} installs on {', '.join(where.platforms)}")
    return 0


def tools_install(settings: Settings, args: argparse.Namespace) -> int:
    """Install requirements-tools.txt into the tools environment with uv (`make tools`)."""
    from . import backend

    backend.install_tools()
    return 0


Handler = Callable[[Settings, argparse.Namespace], int]


def parser() -> argparse.ArgumentParser:
    """The command line: one subcommand per step of the workflow."""
    top = argparse.ArgumentParser(
        prog="python -m scripts",
        description=(__doc__ or "").split("\n\n")[0],
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Handler, *options: str) -> None:
        sub = commands.add_parser(name, help=handler.__doc__, description=handler.__doc__)
        sub.set_defaults(handler=handler)
        for option_name in options:
            option(sub, option_name)

    command("links", links, "quiet")
    command("wheels", wheels, "quiet")
    command("compile", compile_locks, "upgrade", "quiet", "dev", "check", "no-warm")
    command("install", install, "python", "install-locks")
    command("verify", verify, "locks")
    command("audit", audit, "locks")
    command("sbom", sbom)
    command("export", export)
    command("index", index, "quiet", "previous")
    command("report", report, "quiet", "before", "after", "output")
    command("tools-lock", tools_lock, "upgrade")
    command("tools-install", tools_install)
    return top


def error(message: str) -> int:
    """Print each line of ``message`` (masked) as an error line; return exit status 1."""
    for line in mask_url(message).splitlines() or [""]:
        print(f"error: {line}", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a UserError, an OSError (a full disk, a name too long), a closed output
    or Ctrl-C ends it with one line and an exit status, never a traceback."""
    args = parser().parse_args(argv)
    try:
        return int(args.handler(Settings.from_environ(os.environ), args))
    except UserError as exc:
        return error(str(exc))
    except KeyboardInterrupt:
        print("interrupted: nothing was changed; run the same command again", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # What reads the output went away (`make install | head -1`): stop, as `cat` does. Every
        # file is written whole or not at all, so what was done is kept; no more output at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        try:
            return error(
                "the output was closed before the end (a pipe such as `| head` stopped reading): "
                "stopped; what was done is kept, and the same command does the rest"
            )
        except BrokenPipeError:  # stderr is that pipe too
            return 1
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        return error(
            f"{where}{exc.strerror or exc} (nothing was changed): free some disk space or fix "
            "the path, then run the same command again"
        )


if __name__ == "__main__":
    raise SystemExit(main())
