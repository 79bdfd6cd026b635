"""A recording fake of MySQL Shell's Python mode (`mysqlsh --no-wizard --python`).

Run as `python3 mysqlsh.py <state-dir> --no-wizard --python`, the script on stdin. The
script runs with `shell`, `dba` and `session` objects that check their arguments as
MySQL Shell 8.0 does (option names, connection dictionaries, an open session) and record
every call to `<state-dir>/calls.jsonl`. `<state-dir>/state.json` holds the world:
{"servers": {"host:port": {"up": bool, "password": "..."}}, "cluster": null | {...}}.
"""
import json
import os
import sys

state_dir = sys.argv[1]
if sys.argv[2:] != ["--no-wizard", "--python"]:
    sys.exit("fake mysqlsh: unexpected arguments %r" % sys.argv[2:])
state_path = os.path.join(state_dir, "state.json")
with open(state_path) as f:
    state = json.load(f)


def record(call, *args):
    with open(os.path.join(state_dir, "calls.jsonl"), "a") as f:
        f.write(json.dumps({"call": call, "args": list(args)}) + "\n")


class ShellError(Exception):
    pass


def check_options(call, options, allowed):
    if not isinstance(options, dict):
        raise ShellError("%s: Argument #2 is expected to be a map" % call)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ShellError("%s: Invalid options: %s" % (call, ", ".join(unknown)))


class Result:
    def __init__(self, rows):
        self.rows = rows

    def fetch_one(self):
        return self.rows[0] if self.rows else None

    def fetch_all(self):
        return self.rows


class Session:
    def __init__(self, address):
        self.address = address

    def run_sql(self, sql, args=None):
        record("session.run_sql", sql)
        if sql.startswith("SELECT count(*) FROM mysql.juju_units_operations WHERE task="):
            return Result([[state.get("lock_granted", 1)]])
        return Result([[0]])


class Cluster:
    def __init__(self, name):
        self.name = name

    def status(self, options=None):
        record("cluster.status", options)
        check_options("Cluster.status", options or {}, ["extended"])
        return json.dumps(state["cluster"]["status"], indent=4)

    def set_primary_instance(self, address):
        record("cluster.set_primary_instance", address)

    def set_instance_option(self, address, option, value):
        record("cluster.set_instance_option", address, option, value)
        if option not in ("label", "memberWeight", "exitStateAction", "autoRejoinTries"):
            raise ShellError("Cluster.set_instance_option: Option '%s' not supported" % option)

    def create_cluster_set(self, name):
        record("cluster.create_cluster_set", name)

    def add_instance(self, address, options=None):
        record("cluster.add_instance", address, options)
        check_options("Cluster.add_instance", options or {},
                      ["label", "recoveryMethod", "waitRecovery", "recoveryProgress",
                       "ipAllowlist", "localAddress", "exitStateAction", "memberWeight",
                       "autoRejoinTries", "cloneDonor", "timeout"])
        if (options or {}).get("recoveryMethod", "auto") not in ("auto", "incremental", "clone"):
            raise ShellError("Cluster.add_instance: Invalid value for option recoveryMethod")

    def rescan(self, options=None):
        record("cluster.rescan", options)
        check_options("Cluster.rescan", options or {},
                      ["addInstances", "removeInstances", "updateTopologyMode",
                       "upgradeCommProtocol", "updateViewChangeUuid", "repairMetadata"])


class Dba:
    def __init__(self, shell):
        self.shell = shell

    def _session(self, call):
        if self.shell.session is None:
            raise ShellError("%s: An open session is required to perform this operation." % call)

    def get_cluster(self, name=None):
        record("dba.get_cluster", name)
        self._session("Dba.get_cluster")
        cluster = state.get("cluster")
        if not cluster or cluster["name"] != name:
            raise ShellError("Dba.get_cluster: The cluster with the name '%s' does not exist." % name)
        return Cluster(name)

    def create_cluster(self, name, options=None):
        record("dba.create_cluster", name, options)
        self._session("Dba.create_cluster")
        check_options("Dba.create_cluster", options or {},
                      ["communicationStack", "gtidSetIsComplete", "multiPrimary", "memberWeight",
                       "exitStateAction", "autoRejoinTries", "ipAllowlist", "localAddress"])
        if state.get("cluster"):
            raise ShellError("Dba.create_cluster: Unable to create cluster. The instance already belongs to an InnoDB cluster.")
        state["cluster"] = {"name": name, "status": {}}
        return Cluster(name)


class Options:
    def set(self, name, value):
        record("shell.options.set", name, value)


class Shell:
    def __init__(self):
        self.session = None
        self.options = Options()

    def connect(self, options):
        record("shell.connect", {k: v for k, v in options.items() if k != "password"})
        check_options("Shell.connect", options, ["scheme", "user", "password", "host", "port", "socket"])
        address = options.get("socket") or "%s:%s" % (options.get("host"), options.get("port"))
        server = state["servers"].get(address)
        if not server or not server.get("up"):
            raise ShellError("Shell.connect: Can't connect to MySQL server on '%s' (111)" % address)
        if server.get("password") != options.get("password"):
            raise ShellError("Shell.connect: Access denied for user '%s'" % options.get("user"))
        self.session = Session(address)
        return self.session

    def connect_to_primary(self):
        record("shell.connect_to_primary")
        if self.session is None:
            raise ShellError("Shell.connect_to_primary: An open session is required")


shell = Shell()
env = {"shell": shell, "dba": Dba(shell)}
code = sys.stdin.read()
try:
    # `session` is whatever shell.connect opened, as in MySQL Shell.
    class SessionProxy:
        def __getattr__(self, name):
            if shell.session is None:
                raise ShellError("Session: not connected")
            return getattr(shell.session, name)
    env["session"] = SessionProxy()
    exec(compile(code, "<mysqlsh>", "exec"), env)
except ShellError as e:
    sys.stderr.write("Traceback (most recent call last):\nmysqlsh.DBError: %s\n" % e)
    sys.exit(1)
finally:
    with open(state_path, "w") as f:
        json.dump(state, f)
