"""A fake `systemctl` for the cron unit: `systemctl stop|start cron`, recorded."""
import sys

from world import World, fail

w = World(sys.argv[1])
args = sys.argv[2:]
w.record("systemctl", *args)
if len(args) != 2 or args[0] not in ("start", "stop") or args[1] != "cron":
    fail("fake systemctl: only start/stop cron is modelled")
w.state["cron"] = args[0] == "start"
w.event("cron %s" % ("started" if w.state["cron"] else "stopped"))
w.save()
