"""``python -m hardened``: see :mod:`hardened.cli`."""
import gc
import os
import sys

#: ``GOGC`` for the Helm SDK's Go runtime during a render (Go's default is 100): a chart's template
#: pass and its YAML decoding allocate much and keep little, and at 100 the collector took a sixth
#: of the charts' CPU time; Go's heap for a chart stays a few MB. The runtime of a shared library
#: reads its environment once, from the process's initial one (Go ``runtime.goenvs``), so a render
#: started without GOGC starts again, at once, with it (an environment that sets GOGC is kept).
RENDER_GOGC = "400"


def _first_word(argv: list) -> str:
    return next((a for a in argv if not a.startswith("-")), "")


if (_first_word(sys.argv[1:]) == "render" and "GOGC" not in os.environ and os.name == "posix"
        and getattr(sys, "orig_argv", None) and sys.executable):
    os.environ["GOGC"] = RENDER_GOGC
    os.execv(sys.executable, sys.orig_argv)

from hardened.cli import command_of, main  # noqa: E402

if command_of(sys.argv[1:]) == "render":
    # Every object a render makes lives to its end (the program's resources, the records, the
    # charts' objects): the cyclic collector would only rescan them (hardened.render.run).
    gc.disable()
status = main()
# The interpreter's shutdown collections would walk every object the command left, for nothing
# (half a second after a render): they skip the frozen ones. Files are closed, streams flushed.
gc.freeze()
sys.exit(status)
