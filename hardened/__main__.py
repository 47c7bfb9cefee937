"""``python -m hardened``: see :mod:`hardened.cli`."""
import gc
import sys

from hardened.cli import command_of, main

if command_of(sys.argv[1:]) == "render":
    # Every object a render makes lives to its end (the program's resources, the records, the
    # charts' objects): the cyclic collector would only rescan them (hardened.render.run).
    gc.disable()
status = main()
# The interpreter's shutdown collections would walk every object the command left, for nothing
# (half a second after a render): they skip the frozen ones. Files are closed, streams flushed.
gc.freeze()
sys.exit(status)
