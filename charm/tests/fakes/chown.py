"""A fake `chown OWNER:GROUP PATH`: the path must exist; recorded."""
import os
import sys

from world import World, fail

w = World(sys.argv[1])
args = sys.argv[2:]
w.record("chown", *args)
if len(args) != 2 or ":" not in args[0]:
    fail("chown: usage: chown OWNER:GROUP PATH")
if not os.path.exists(args[1]):
    fail("chown: cannot access '%s': No such file or directory" % args[1])
w.save()
