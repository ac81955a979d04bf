import signal

from .cli import main

status = main()
signal.signal(signal.SIGINT, signal.SIG_IGN)  # the work is done: a Ctrl-C now must not end it in a traceback
# CPython remembers a KeyboardInterrupt that escaped any exec() of a string (SciPy runs one while it is
# imported, which a Ctrl-C can meet) and then ends `python -m` by SIGINT, whatever the status; an exec()
# that succeeds clears that memory, so the status below is the one that counts.
exec("")
raise SystemExit(status)
