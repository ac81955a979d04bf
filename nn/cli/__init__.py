"""The `nn` command: train, predict, export, gradcheck, bench, info (`nn = "nn.cli:main"`, and `python -m nn`).

Errors are one clear line on stderr and a non-zero exit, not a traceback. The modules, each importing
only those listed before it: options (the parser, defaults and path checks), data (what train learns
from), figures, then the commands: train, predict, export, diagnostics (gradcheck and info), bench;
main is here.
"""
import os
import sys

from ..trainer import TrainingDiverged
from .bench import bench
from .diagnostics import gradcheck, info
from .export import export
from .options import given_options, make_parser
from .predict import predict
from .train import INTERRUPTED, train

COMMANDS = {"train": train, "predict": predict, "export": export, "gradcheck": gradcheck, "bench": bench,
            "info": info}
# The user's mistakes (a bad option value, a missing or unreadable file, a full disk, no matplotlib) are one
# line; anything else is a bug and keeps its traceback.
USER_ERRORS = (ValueError, TypeError, OSError, ImportError)


def main(argv=None):
    """The `nn` command; returns the exit status (0, 1: training diverged or a check failed, 2: the user's
    error, 130: Ctrl-C, 141: stdout's reader went away)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    name = "nn"
    try:
        parser = make_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return 2
        name = f"nn {args.command}"
        if args.command == "train":
            args.given = given_options(argv)  # the options given, which --resume refuses but a few
        status = COMMANDS[args.command](args)
        sys.stdout.flush()  # a reader that went away shows here, where it is handled, not at exit
        return status
    except BrokenPipeError:
        return _stdout_gone()
    except TrainingDiverged as exc:
        print(f"{name}: training diverged: {exc}", file=sys.stderr)
        return 1
    except USER_ERRORS as exc:
        print(f"{name}: error: {_message(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return INTERRUPTED


def _message(exc):
    """One line for a user's error: an OSError as 'reason: path', the others as their own message."""
    if isinstance(exc, OSError) and exc.strerror:
        paths = " -> ".join(repr(p) for p in (exc.filename, exc.filename2) if p is not None)
        return f"{exc.strerror}: {paths}" if paths else exc.strerror
    return str(exc) or type(exc).__name__


def _stdout_gone():
    """`nn info | head -1`: the reader has gone. Point stdout at os.devnull, so that Python's flush at exit
    does not fail again, and exit quietly as a process killed by SIGPIPE would (128 + 13)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 141
