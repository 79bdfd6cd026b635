"""A fake `snap` enforcing snapd's command-line semantics for the commands the charm runs.

Run as `python3 snap.py <state-dir> <snap arguments>`. Follows snapd 2.6x:
- `snap list NAME`: a table (Name Version Rev Tracking Publisher Notes); Notes `held`
  once held; `error: no matching snaps installed` (exit 1) when absent.
- `snap install NAME --revision=N`: a second install only says it is installed (exit 0)
  and changes nothing; daemons are disabled at install (charmed-mysql: install-mode disable).
- `snap refresh NAME --revision=N`: needs the snap; the same revision "has no updates
  available"; a refresh stops the services and starts again those that are *enabled* (so
  mysqld boots on the new revision unless it was stopped with `--disable`).
- `snap refresh --hold NAME`, `snap alias SNAP.APP ALIAS`, `snap stop [--disable] SNAP.APP`,
  `snap start [--enable] SNAP.APP`, `snap run SNAP.APP args...` (mysqld --initialize),
  `snap remove NAME`.
Anything else is refused like snapd refuses an unknown command or flag.
"""
import os
import sys

from world import World, fail, new_uuid

w = World(sys.argv[1])
args = sys.argv[2:]
snap = w.state["snap"]
NAME = "charmed-mysql"


def installed():
    return snap.get("installed")


def need_installed(name):
    if name != NAME or not installed():
        fail('error: snap "%s" is not installed' % name)


def service(spec):
    name, _, app = spec.partition(".")
    if name != NAME or not installed():
        fail('error: snap "%s" not found' % name)
    if app != "mysqld":
        fail('error: snap "%s" has no service "%s"' % (name, app))


def finish(code=0):
    w.save()
    sys.exit(code)


if not args:
    fail("error: no command given", 64)
cmd, rest = args[0], args[1:]
w.record("snap", cmd, *rest)

if cmd == "list":
    if rest != [NAME] or not installed():
        fail("error: no matching snaps installed")
    i = installed()
    print("Name           Version                  Rev  Tracking    Publisher        Notes")
    print("%s  %s  %s  8.0/stable  dataplatformbot  %s"
          % (NAME, snap["store"][i["revision"]], i["revision"], "held" if i["held"] else "-"))
    finish()

if cmd == "install":
    flags = [a for a in rest if a.startswith("-")]
    names = [a for a in rest if not a.startswith("-")]
    if names != [NAME] or any(not f.startswith("--revision=") for f in flags):
        fail("error: unknown flag or snap in %r" % rest, 64)
    if installed():
        print('snap "%s" is already installed, see \'snap help refresh\'' % NAME)
        finish()
    revision = flags[0].split("=", 1)[1] if flags else max(snap["store"])
    if revision not in snap["store"]:
        fail('error: cannot install "%s": no snap revision %s' % (NAME, revision))
    snap["installed"] = {"revision": revision, "held": False, "enabled": False,
                         "active": False, "aliases": []}
    os.makedirs(w.paths["common_dir"], exist_ok=True)
    print("%s (8.0/stable) %s from Canonical installed" % (NAME, snap["store"][revision]))
    finish()

if cmd == "refresh":
    if rest == ["--hold", NAME]:
        need_installed(NAME)
        installed()["held"] = True
        print('General refreshes of "%s" held indefinitely' % NAME)
        finish()
    flags = [a for a in rest if a.startswith("-")]
    names = [a for a in rest if not a.startswith("-")]
    if len(names) != 1 or len(flags) != 1 or not flags[0].startswith("--revision="):
        fail("error: unknown flag or snap in %r" % rest, 64)
    need_installed(names[0])
    revision = flags[0].split("=", 1)[1]
    i = installed()
    if revision == i["revision"]:
        print('snap "%s" has no updates available' % NAME)
        finish()
    if revision not in snap["store"]:
        fail('error: cannot refresh "%s": no snap revision %s' % (NAME, revision))
    if i["active"]:
        w.halt_mysqld()
    i["revision"] = revision
    w.event("refreshed to %s" % revision)
    if i["enabled"]:
        w.boot_mysqld()
    print("%s (8.0/stable) %s from Canonical refreshed" % (NAME, snap["store"][revision]))
    finish()

if cmd == "alias":
    if len(rest) != 2:
        fail("error: the required arguments `<snap.app>` and `<alias>` were not provided", 64)
    name, _, app = rest[0].partition(".")
    need_installed(name)
    if app not in snap["apps"]:
        fail('error: cannot perform the following tasks:\n- Setup manual alias "%s" => "%s" '
             'for snap "%s" (cannot enable alias "%s" for "%s", target application "%s" does '
             'not exist)' % (rest[1], app, name, rest[1], name, app))
    installed()["aliases"].append(rest[1])
    print("Added:\n  - %s as %s" % (rest[0], rest[1]))
    finish()

if cmd in ("stop", "start"):
    flag = {"stop": "--disable", "start": "--enable"}[cmd]
    flags = [a for a in rest if a.startswith("-")]
    names = [a for a in rest if not a.startswith("-")]
    if len(names) != 1 or any(f != flag for f in flags):
        fail("error: unknown flag in %r" % rest, 64)
    service(names[0])
    i = installed()
    if cmd == "stop":
        if flags:
            i["enabled"] = False
        if i["active"]:
            w.halt_mysqld()
        print("Stopped.")
    else:
        if flags:
            i["enabled"] = True
        if not i["active"]:
            w.boot_mysqld()
        print("Started.")
    finish()

if cmd == "run":
    if not rest:
        fail("error: the required argument `<snap>.<app>` was not provided", 64)
    service(rest[0])
    opts = dict(a.split("=", 1) if "=" in a else (a, "") for a in rest[1:])
    if set(opts) != {"--initialize", "--datadir", "--user"}:
        fail("fake snap run: only `mysqld --initialize --datadir= --user=` is modelled")
    data = opts["--datadir"]
    if not os.path.isdir(data):
        fail("[ERROR] [MY-010187] [Server] Could not open datadir %s" % data)
    if os.listdir(data):
        fail("[ERROR] [MY-010457] [Server] --initialize specified but the data directory "
             "has files in it. Aborting.")
    for name in ("ibdata1", "mysql.ibd", "auto.cnf"):
        open(os.path.join(data, name), "w").close()
    version = snap["store"][installed()["revision"]].split("-")[0]
    server = w.local
    server.update({"data_version": version, "uuid": new_uuid(), "users": {"root": None},
                   "gr": None, "plugins": [], "configured": False, "locks": {}})
    w.log_error("[Note] [MY-010454] [Server] A temporary password is generated for root@localhost: x")
    w.event("initialised %s" % data)
    finish()

if cmd == "remove":
    fail("fake snap: `snap remove` would delete the charm's configuration; the charm must not run it")

fail('error: unknown command "%s", see \'snap help\'.' % cmd, 64)
