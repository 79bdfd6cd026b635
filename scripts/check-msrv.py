"""Reads `cargo metadata` on stdin; for each workspace crate named on the command line,
checks that every dependency it builds with (normal and build, transitively, as locked)
declares a rust-version no newer than the crate's own. Exits 1 naming each one that does."""
import json
import sys


def version(text):
    parts = [int(part) for part in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def built_deps(node):
    return [d["pkg"] for d in node["deps"] if any(k["kind"] in (None, "build") for k in d["dep_kinds"])]


def main(crates):
    meta = json.load(sys.stdin)
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    problems = []
    for crate in crates:
        matches = [p for p in meta["packages"] if p["name"] == crate and p["source"] is None]
        if not matches:
            problems.append("%s is not a workspace crate" % crate)
            continue
        pkg = matches[0]
        msrv = pkg["rust_version"]
        if not msrv:
            problems.append("%s declares no rust-version" % crate)
            continue
        seen, todo = set(), built_deps(nodes[pkg["id"]])
        while todo:
            dep = todo.pop()
            if dep in seen:
                continue
            seen.add(dep)
            p = packages[dep]
            if p["rust_version"] and version(p["rust_version"]) > version(msrv):
                problems.append(
                    "%s (rust-version %s) builds with %s %s (rust-version %s)"
                    % (crate, msrv, p["name"], p["version"], p["rust_version"])
                )
            todo.extend(built_deps(nodes[dep]))
        print("    %s: rust-version %s; %d dependencies declare no newer one" % (crate, msrv, len(seen)))
    if problems:
        print("\n".join(problems), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
