"""A recording fake of MySQL Shell 8.0's Python mode (`mysqlsh --no-wizard --python`).

Run as `python3 mysqlsh.py <state-dir> --no-wizard --python`, the script on stdin. The
script runs with `shell`, `dba`, `session` objects that answer as MySQL Shell's do on the
servers of the shared world (world.py): connection dictionaries and passwords checked,
option names checked against the AdminAPI's, `cluster.status()` printed as MySQL Shell
prints a dictionary (JSON), errors raised with the Shell's messages (exit 1, traceback on
stderr). Every call is recorded in `<state-dir>/calls.jsonl`. SQL the fake does not know
is a syntax error, so a script cannot pass by sending something else.
"""
import json
import re
import sys

from world import World, _unquote

w = World(sys.argv[1])
if sys.argv[2:] != ["--no-wizard", "--python"]:
    sys.exit("fake mysqlsh: unexpected arguments %r" % sys.argv[2:])
servers = w.state["servers"]


def record(call, *args):
    w.record("mysqlsh", call, *args)


class ShellError(Exception):
    pass


def check_options(call, options, allowed):
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise ShellError("%s: Argument #2 is expected to be a map" % call)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ShellError("%s: Invalid options: %s" % (call, ", ".join(unknown)))
    return options


class Result:
    def __init__(self, rows=None, affected=0):
        self.rows = rows or []
        self.affected = affected

    def fetch_one(self):
        return self.rows[0] if self.rows else None

    def fetch_all(self):
        return self.rows

    def get_affected_items_count(self):
        return self.affected


Q = r"'((?:[^'\\]|\\.)*)'"  # a quoted SQL string


def unq(text):
    return _unquote("'" + text + "'")


class Session:
    def __init__(self, address, user):
        self.address = address
        self.user = user

    @property
    def server(self):
        return servers[self.address]

    def run_sql(self, sql, args=None):
        record("session.run_sql", sql)
        s = self.server
        if not s.get("up"):
            raise ShellError("ClassicSession.run_sql: Lost connection to MySQL server during query")
        m = None

        def match(pattern):
            nonlocal m
            m = re.fullmatch(pattern, sql, re.S)
            return m

        if sql in ("SELECT 1",):
            return Result([[1]])
        if sql == "SELECT version()":
            return Result([[s["version"]]])
        if match(r"SET GLOBAL (\w+) = (\w+)"):
            if m.group(1) == "super_read_only":
                s["super_read_only"] = m.group(2) == "ON"
            s.setdefault("variables", {})[m.group(1)] = m.group(2)
            return Result()
        if sql.startswith("SELECT MEMBER_STATE FROM performance_schema.replication_group_members"):
            state = s.get("gr")
            if state == "RECOVERING":
                s["recovering_polls"] = s.get("recovering_polls", 0) - 1
                if s["recovering_polls"] <= 0:
                    s["gr"] = "ONLINE"
            return Result([[state]] if state else [])
        if sql.startswith("SELECT COUNT(*) FROM performance_schema.events_stages_current"):
            return Result([[1 if s.get("auto_rejoin") else 0]])
        if sql == "SELECT PLUGIN_NAME FROM information_schema.PLUGINS":
            return Result([[p] for p in s.get("plugins", [])])
        if sql == "SELECT @@GLOBAL.super_read_only":
            return Result([[1 if s.get("super_read_only") else 0]])
        if match(r"INSTALL PLUGIN (\w+) SONAME " + Q):
            if s.get("super_read_only"):
                raise ShellError("ClassicSession.run_sql: The MySQL server is running with the "
                                 "--super-read-only option so it cannot execute this statement")
            if m.group(1) in s.setdefault("plugins", []):
                raise ShellError("ClassicSession.run_sql: Function '%s' already exists" % m.group(1))
            s["plugins"].append(m.group(1))
            return Result()
        if match(r"ALTER USER %s@%s IDENTIFIED BY %s" % (Q, Q, Q)):
            if unq(m.group(1)) not in s["users"]:
                raise ShellError("ClassicSession.run_sql: Operation ALTER USER failed for '%s'" % m.group(1))
            s["users"][unq(m.group(1))] = unq(m.group(3))
            return Result()
        if match(r"CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s( WITH MAX_USER_CONNECTIONS \d+)?" % (Q, Q)):
            s["users"].setdefault(unq(m.group(1)), unq(m.group(2)))
            return Result()
        if re.fullmatch(r"GRANT .+ ON \*\.\* TO '\w+'@'%'( WITH GRANT OPTION)?", sql) \
                or re.fullmatch(r"GRANT .+ TO '\w+'@'%'", sql) \
                or re.fullmatch(r"REVOKE .+ ON \*\.\* FROM 'root'@'localhost'", sql) \
                or sql == "FLUSH PRIVILEGES":
            return Result()
        if sql == "DROP TABLE IF EXISTS mysql.juju_units_operations":
            s.pop("locks", None)
            return Result()
        if sql.startswith("CREATE TABLE mysql.juju_units_operations"):
            s["locks"] = {}
            return Result()
        if match(r"INSERT INTO mysql.juju_units_operations VALUES \(%s, '', 'not-started'\) "
                 r"ON DUPLICATE KEY UPDATE executor = '', status = 'not-started'" % Q):
            s["locks"][unq(m.group(1))] = ""
            return Result(affected=1)
        locks = self.locks()
        if match(r"UPDATE mysql.juju_units_operations SET executor=%s, status='in-progress' "
                 r"WHERE task=%s AND executor=''" % (Q, Q)):
            task = unq(m.group(2))
            if locks.get(task) == "":
                locks[task] = unq(m.group(1))
                return Result(affected=1)
            return Result()
        if match(r"SELECT count\(\*\) FROM mysql.juju_units_operations WHERE task=%s AND executor=%s" % (Q, Q)):
            return Result([[1 if locks.get(unq(m.group(1))) == unq(m.group(2)) else 0]])
        if match(r"UPDATE mysql.juju_units_operations SET executor='', status='not-started' "
                 r"WHERE task=%s AND executor=%s" % (Q, Q)):
            if locks.get(unq(m.group(1))) == unq(m.group(2)):
                locks[unq(m.group(1))] = ""
                return Result(affected=1)
            return Result()
        if sql == "SELECT COUNT(*) FROM mysql.juju_units_operations WHERE status='in-progress'":
            return Result([[sum(1 for v in locks.values() if v)]])
        raise ShellError("ClassicSession.run_sql: You have an error in your SQL syntax near %r" % sql[:60])

    def locks(self):
        # The table lives on the cluster (replicated): the primary's copy is the one.
        cluster = w.state.get("cluster")
        holder = servers[cluster["primary"]] if cluster else self.server
        if "locks" not in holder:
            raise ShellError("ClassicSession.run_sql: Table 'mysql.juju_units_operations' doesn't exist")
        return holder["locks"]


def member_label(address):
    for label, m in w.state["cluster"]["members"].items():
        if m["address"] == address:
            return label
    return None


class Cluster:
    def __init__(self, name):
        self.name = name

    def status(self, options=None):
        record("cluster.status", options)
        check_options("Cluster.status", options, ["extended"])
        c = w.state["cluster"]
        topology = {}
        for label, m in sorted(c["members"].items()):
            s = servers[m["address"]]
            in_group = s.get("up") and s.get("uuid") == m["uuid"] and s.get("gr") in ("ONLINE", "RECOVERING")
            entry = {"address": m["address"], "memberRole": "PRIMARY" if m["address"] == c["primary"] else "SECONDARY",
                     "mode": "R/W" if m["address"] == c["primary"] else "R/O", "readReplicas": {},
                     "role": "HA", "status": s["gr"] if in_group else "(MISSING)",
                     "version": s.get("version", "").split("-")[0]}
            if not in_group:
                entry["instanceErrors"] = ["NOTE: group_replication is stopped."]
                entry["memberState"] = "OFFLINE"
            topology[label] = entry
        online = sum(1 for t in topology.values() if t["status"] == "ONLINE")
        status = {"clusterName": self.name, "defaultReplicaSet": {
            "name": "default", "primary": c["primary"], "ssl": "REQUIRED",
            "status": "OK" if online >= 3 else "OK_NO_TOLERANCE",
            "statusText": "Cluster is ONLINE and can tolerate up to ONE failure." if online >= 3
            else "Cluster is NOT tolerant to any failures.",
            "topology": topology, "topologyMode": "Single-Primary"},
            "groupInformationSourceMember": c["primary"]}
        return ShellDict(status)

    def set_primary_instance(self, address, options=None):
        record("cluster.set_primary_instance", address)
        if member_label(address) is None:
            raise ShellError("Cluster.set_primary_instance: The instance '%s' does not belong to the cluster" % address)
        w.state["cluster"]["primary"] = address

    def set_instance_option(self, address, option, value):
        record("cluster.set_instance_option", address, option, value)
        if option not in ("label", "memberWeight", "exitStateAction", "autoRejoinTries", "tag:_hidden"):
            raise ShellError("Cluster.set_instance_option: Option '%s' not supported." % option)
        label = member_label(address)
        if label is None:
            raise ShellError("Cluster.set_instance_option: The instance '%s' does not belong to the cluster" % address)
        if option == "label":
            members = w.state["cluster"]["members"]
            members[value] = members.pop(label)

    def create_cluster_set(self, name):
        record("cluster.create_cluster_set", name)
        w.state["cluster"]["set"] = name

    def add_instance(self, address, options=None):
        record("cluster.add_instance", address, options)
        opts = check_options("Cluster.add_instance", options,
                             ["label", "recoveryMethod", "waitRecovery", "recoveryProgress",
                              "ipAllowlist", "localAddress", "exitStateAction", "memberWeight",
                              "autoRejoinTries", "cloneDonor", "timeout"])
        if opts.get("recoveryMethod", "auto") not in ("auto", "incremental", "clone"):
            raise ShellError("Cluster.add_instance: Invalid value for option recoveryMethod")
        target = servers.get(address)
        if not target or not target.get("up"):
            raise ShellError("Cluster.add_instance: Can't connect to MySQL server on '%s'" % address)
        if not target.get("configured"):
            raise ShellError("Cluster.add_instance: Instance '%s' is not configured for InnoDB cluster" % address)
        if member_label(address) is not None:
            raise ShellError("Cluster.add_instance: The instance '%s' is already part of this InnoDB Cluster" % address)
        label = opts.get("label", address)
        w.state["cluster"]["members"][label] = {"address": address, "uuid": target["uuid"]}
        target["gr"] = "ONLINE"
        target["cloned"] = opts.get("recoveryMethod") == "clone"

    def rescan(self, options=None):
        record("cluster.rescan", options)
        opts = check_options("Cluster.rescan", options,
                             ["addInstances", "removeInstances", "updateTopologyMode",
                              "upgradeCommProtocol", "updateViewChangeUuid", "repairMetadata"])
        if opts.get("removeInstances") == "auto":
            members = w.state["cluster"]["members"]
            for label in list(members):
                s = servers[members[label]["address"]]
                if s.get("uuid") != members[label]["uuid"] or s.get("gr") not in ("ONLINE", "RECOVERING"):
                    del members[label]

    def rejoin_instance(self, address, options=None):
        record("cluster.rejoin_instance", address, options)
        label = member_label(address)
        s = servers.get(address)
        if label is None or not s or not s.get("up"):
            raise ShellError("Cluster.rejoin_instance: The instance '%s' does not belong to the cluster" % address)
        s["gr"] = "ONLINE"


class ClusterSet:
    def status(self, options=None):
        record("cluster_set.status", options)
        check_options("ClusterSet.status", options, ["extended"])
        c = w.state["cluster"]
        return ShellDict({"clusters": {c["name"]: {"clusterRole": "PRIMARY", "globalStatus": "OK",
                                                    "primary": c["primary"]}},
                          "domainName": c["set"], "globalPrimaryInstance": c["primary"],
                          "primaryCluster": c["name"], "status": "HEALTHY",
                          "statusText": "All Clusters available."})


class ShellDict(dict):
    """MySQL Shell prints a dictionary as JSON."""
    def __str__(self):
        return json.dumps(self, indent=4)


class Dba:
    def _session(self, call):
        if shell.session is None:
            raise ShellError("%s: An open session is required to perform this operation." % call)
        return shell.session

    def _cluster(self, call, name):
        session = self._session(call)
        c = w.state.get("cluster")
        if not c or member_label(session.address) is None or servers[session.address].get("gr") != "ONLINE":
            raise ShellError("%s: This function is not available through a session to a standalone instance" % call)
        if name is not None and c["name"] != name:
            raise ShellError("%s: The cluster with the name '%s' does not exist." % (call, name))
        return c

    def get_cluster(self, name=None, options=None):
        record("dba.get_cluster", name)
        self._cluster("Dba.get_cluster", name)
        return Cluster(w.state["cluster"]["name"])

    def get_cluster_set(self):
        record("dba.get_cluster_set")
        c = self._cluster("Dba.get_cluster_set", None)
        if not c.get("set"):
            raise ShellError("Dba.get_cluster_set: The cluster is not part of a ClusterSet")
        return ClusterSet()

    def configure_instance(self, instance=None, options=None):
        record("dba.configure_instance", instance, {k: v for k, v in (options or {}).items() if "Password" not in k})
        opts = check_options("Dba.configure_instance", options,
                             ["clusterAdmin", "clusterAdminPassword", "restart", "mycnfPath",
                              "outputMycnfPath", "interactive", "clearReadOnly",
                              "applierWorkerThreads", "clusterAdminPasswordExpiration",
                              "clusterAdminCertIssuer", "clusterAdminCertSubject"])
        session = self._session("Dba.configure_instance")
        if "clusterAdmin" in opts and "clusterAdminPassword" not in opts:
            raise ShellError("Dba.configure_instance: clusterAdminPassword is required")
        s = servers[session.address]
        if "clusterAdmin" in opts:
            s["users"][opts["clusterAdmin"]] = opts["clusterAdminPassword"]
        s["configured"] = True

    def create_cluster(self, name, options=None):
        record("dba.create_cluster", name, options)
        session = self._session("Dba.create_cluster")
        opts = check_options("Dba.create_cluster", options,
                             ["communicationStack", "gtidSetIsComplete", "multiPrimary", "memberWeight",
                              "exitStateAction", "autoRejoinTries", "ipAllowlist", "localAddress"])
        if opts.get("communicationStack", "MySQL") not in ("MySQL", "XCOM"):
            raise ShellError("Dba.create_cluster: Invalid value for option communicationStack")
        s = servers[session.address]
        if w.state.get("cluster"):
            raise ShellError("Dba.create_cluster: Unable to create cluster. The instance '%s' already belongs to an InnoDB cluster." % session.address)
        if not s.get("configured"):
            raise ShellError("Dba.create_cluster: Instance '%s' is not configured for InnoDB cluster" % session.address)
        w.state["cluster"] = {"name": name, "set": None, "primary": session.address,
                              "members": {session.address: {"address": session.address, "uuid": s["uuid"]}}}
        s["gr"] = "ONLINE"
        return Cluster(name)

    def reboot_cluster_from_complete_outage(self, name=None, options=None):
        record("dba.reboot_cluster_from_complete_outage", name)
        session = self._session("Dba.reboot_cluster_from_complete_outage")
        c = w.state.get("cluster")
        if not c or (name is not None and c["name"] != name):
            raise ShellError("Dba.reboot_cluster_from_complete_outage: The cluster with the name '%s' does not exist." % name)
        if any(servers[m["address"]].get("gr") == "ONLINE" for m in c["members"].values()):
            raise ShellError("Dba.reboot_cluster_from_complete_outage: The Cluster is ONLINE")
        servers[session.address]["gr"] = "ONLINE"
        c["primary"] = session.address


class Options:
    def set(self, name, value):
        record("shell.options.set", name, value)
        if name != "useWizards":
            raise ShellError("Shell.options.set: Unknown option %s" % name)


class Shell:
    def __init__(self):
        self.session = None
        self.options = Options()

    def connect(self, options):
        record("shell.connect", {k: v for k, v in options.items() if k != "password"})
        check_options("Shell.connect", options, ["scheme", "user", "password", "host", "port", "socket"])
        if "socket" in options:
            if options["socket"] != w.paths["socket"]:
                raise ShellError("Shell.connect: Can't connect to local MySQL server through socket '%s' (2)" % options["socket"])
            address = w.state["local"]
        else:
            address = "%s:%s" % (options.get("host"), options.get("port"))
        s = servers.get(address)
        if not s or not s.get("up"):
            raise ShellError("Shell.connect: Can't connect to MySQL server on '%s' (111)" % address)
        user = options.get("user")
        if user == "root" and "socket" not in options:
            raise ShellError("Shell.connect: Access denied for user 'root'@'%s'" % options.get("host"))
        if user not in s["users"] or s["users"][user] != options.get("password"):
            raise ShellError("Shell.connect: Access denied for user '%s' (using password: YES)" % user)
        self.session = Session(address, user)
        return self.session

    def connect_to_primary(self):
        record("shell.connect_to_primary")
        if self.session is None:
            raise ShellError("Shell.connect_to_primary: An open session is required")
        c = w.state.get("cluster")
        if not c:
            raise ShellError("Shell.connect_to_primary: The instance is not part of an InnoDB cluster")
        self.session = Session(c["primary"], self.session.user)


class SessionProxy:
    """`session` is whatever session the script opened last, as in MySQL Shell."""
    def __getattr__(self, name):
        if shell.session is None:
            raise ShellError("Session: not connected")
        return getattr(shell.session, name)


shell = Shell()
env = {"shell": shell, "dba": Dba(), "session": SessionProxy()}
code = sys.stdin.read()
status = 0
try:
    exec(compile(code, "<mysqlsh>", "exec"), env)
except ShellError as e:
    sys.stderr.write("Traceback (most recent call last):\n  File \"<string>\", line 1, in <module>\nmysqlsh.DBError: %s\n" % e)
    status = 1
w.save()
sys.exit(status)
