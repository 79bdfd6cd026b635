"""The shared state of the fake machine and its MySQL peers, one JSON file that the fake
`snap`, `mysqlsh`, `systemctl` and `chown` read and write in turn (they run one at a time).

    {"paths": {"socket", "error_log", "data_dir", "common_dir", "config_dir"},
     "snap": {"installed": null | {"revision", "held", "enabled", "active", "aliases"},
              "store": {"<revision>": "<version string>"}, "apps": [...]},
     "servers": {"<host:port>": {"up", "version", "uuid", "users": {name: password},
                                  "gr": "ONLINE"|"OFFLINE"|"RECOVERING"|..., "plugins": [],
                                  "super_read_only", "configured", "locks": {task: executor}}},
     "local": "<host:port of this machine's server>",
     "cluster": null | {"name", "set", "primary", "members": {label: {"address", "uuid"}}},
     "events": [...]}
"""
import json
import os
import sys
import uuid


class World:
    def __init__(self, state_dir):
        self.path = os.path.join(state_dir, "world.json")
        self.dir = state_dir
        with open(self.path) as f:
            self.state = json.load(f)

    def save(self):
        with open(self.path, "w") as f:
            json.dump(self.state, f, indent=1)

    def record(self, tool, call, *args):
        with open(os.path.join(self.dir, "calls.jsonl"), "a") as f:
            f.write(json.dumps({"tool": tool, "call": call, "args": list(args)}) + "\n")

    def event(self, text):
        self.state.setdefault("events", []).append(text)

    @property
    def paths(self):
        return self.state["paths"]

    @property
    def local(self):
        return self.state["servers"][self.state["local"]]

    def log_error(self, line):
        with open(self.paths["error_log"], "a") as f:
            f.write(line + "\n")

    def boot_mysqld(self):
        """mysqld starting on the installed revision: refuses newer data (MY-013171)."""
        installed = self.state["snap"]["installed"]
        version = self.state["snap"]["store"][installed["revision"]].split("-")[0]
        server = self.local
        self.log_error("[System] [MY-010116] [Server] /snap/charmed-mysql/%s/usr/sbin/mysqld "
                       "(mysqld %s) starting as process 4242" % (installed["revision"], version))
        data = server.get("data_version")
        if data and _ver(data) > _ver(version):
            self.log_error("[ERROR] [MY-013171] [InnoDB] Cannot boot server version %s on data "
                           "directory built by version %s. Downgrade is not supported" % (version, data))
            self.log_error("[ERROR] [MY-010119] [Server] Aborting")
            installed["active"] = False
            self.event("mysqld refused to start on %s" % version)
            return
        init = os.path.join(self.paths["config_dir"], "z-custom-init-file.cnf")
        if os.path.exists(init):
            with open(init) as f:
                sql_file = f.read().split("init_file = ")[1].strip()
            with open(sql_file) as f:
                sql = f.read()
            server["users"]["root"] = _unquote(sql.split("IDENTIFIED BY ")[1].split(";")[0])
        server["up"] = True
        server["version"] = self.state["snap"]["store"][installed["revision"]]
        server["data_version"] = version
        # Group Replication starts on boot (group_replication_start_on_boot): a member
        # with ONLINE peers recovers then comes ONLINE; alone it cannot form a group.
        server["gr"] = "OFFLINE" if server.get("gr") is not None else None
        cluster = self.state.get("cluster")
        if cluster and any(m["uuid"] == server.get("uuid") for m in cluster["members"].values()):
            peers_online = any(
                self.state["servers"][m["address"]].get("gr") == "ONLINE"
                for m in cluster["members"].values()
                if m["address"] != self.state["local"])
            if peers_online:
                server["gr"] = "RECOVERING"
                server["recovering_polls"] = 2
        installed["active"] = True
        open(self.paths["socket"], "w").close()
        self.log_error("[System] [MY-010931] [Server] mysqld: ready for connections.")
        self.event("mysqld started on %s" % version)

    def halt_mysqld(self):
        installed = self.state["snap"]["installed"]
        if installed:
            installed["active"] = False
        self.local["up"] = False
        if self.local.get("gr") in ("ONLINE", "RECOVERING"):
            self.local["gr"] = "OFFLINE"
        if os.path.exists(self.paths["socket"]):
            os.remove(self.paths["socket"])
        self.event("mysqld stopped")


def _ver(text):
    return tuple(int(p) for p in text.split("."))


def _unquote(literal):
    literal = literal.strip()
    assert literal[0] == "'" and literal[-1] == "'", literal
    out, i, body = [], 0, literal[1:-1]
    while i < len(body):
        if body[i] == "\\":
            out.append(body[i + 1])
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def new_uuid():
    return str(uuid.uuid4())


def fail(message, code=1):
    sys.stderr.write(message + "\n")
    sys.exit(code)
