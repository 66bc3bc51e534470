"""A local two-node OpenSearch cluster for development, tests and CI (stdlib only).

    python scripts/opensearch.py up             fetch once, start two nodes, print their URLs
    python scripts/opensearch.py down           stop the nodes; nothing keeps running
    python scripts/opensearch.py status         the running cluster's URLs, or exit 1
    python scripts/opensearch.py with-cluster -- CMD...
                                                start (unless running), run CMD with
                                                KB_OPENSEARCH_URL set, stop what it started

KB_OPENSEARCH_HOME: the runtime folder (below); KB_OPENSEARCH_PORT: the first node's HTTP
port (the next nodes take the ports after it, transport ports are 100 above), for a second
cluster beside the one `make test` starts on 9200.

OpenSearch comes from Maven (the integration-test distribution, which holds the server and the
transport module, plus the analysis-common module jar, which holds the language analysers that
distribution leaves out). Both are pinned by coordinates and sha256 below. Everything else
lives in the git-ignored `.opensearch/` of the checkout: the unpacked server, one
folder per node (config, data, logs) and `cluster.json` (the running nodes' pids and ports).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

VERSION = "2.19.6"
REPO = Path(__file__).resolve().parent.parent


def runtime_home() -> Path:
    """`.opensearch/` in the checkout; as root (the nodes then run as `nobody`) a checkout
    that others cannot enter, such as one under /root, gets a folder in the temp dir instead."""
    if os.environ.get("KB_OPENSEARCH_HOME"):
        return Path(os.environ["KB_OPENSEARCH_HOME"]).resolve()
    home = REPO / ".opensearch"
    if os.geteuid() == 0 and not all(p.stat().st_mode & 0o001 for p in home.parents):
        tag = hashlib.sha1(str(REPO).encode()).hexdigest()[:8]
        return Path(tempfile.gettempdir()) / f"kb-opensearch-{tag}"
    return home


HOME = runtime_home()
DIST = HOME / "dist"
SERVER = HOME / f"opensearch-{VERSION}"
STATE = HOME / "cluster.json"
NODES = 2
HEAP = "512m"
START_TIMEOUT_S = 240
STOP_TIMEOUT_S = 30
JAVA_MISSING = (
    "java and mvn are needed for the OpenSearch tests: install a JDK 17 and Maven "
    "(Debian: apt-get install openjdk-17-jdk-headless maven), then `make opensearch-up`"
)


@dataclass(frozen=True)
class Artifact:
    coordinates: str  # groupId:artifactId:version[:type]
    filename: str
    sha256: str


ARTIFACTS = (
    Artifact(
        f"org.opensearch.distribution.integ-test-zip:opensearch:{VERSION}:zip",
        f"opensearch-{VERSION}.zip",
        "71d6d8b1c637f3faecda0752b184b1cc526fc6eaad59ec1408c6327bb00b9293",
    ),
    Artifact(
        f"org.opensearch.plugin:analysis-common:{VERSION}",
        f"analysis-common-{VERSION}.jar",
        "187378844d92a043b935038f9ae168f7812f686b1c1c7128f8b97731baff8a1a",
    ),
)

# The module's descriptor is not part of the published jar (the build writes it into the
# distribution's zip); these are the facts the node needs to load the module.
ANALYSIS_DESCRIPTOR = f"""\
description=Language analysers, tokenizers and token filters (module jar from Maven)
version={VERSION}
name=analysis-common
classname=org.opensearch.analysis.common.CommonAnalysisPlugin
java.version=11
opensearch.version={VERSION}
custom.foldername=
extended.plugins=
has.native.controller=false
"""

# Our own jvm.options: 512 MiB heap, and no GC log or heap dump written to the working folder.
JVM_OPTIONS = f"""\
-Xms{HEAP}
-Xmx{HEAP}
-XX:+UseG1GC
-XX:-HeapDumpOnOutOfMemoryError
-Djava.io.tmpdir=${{OPENSEARCH_TMPDIR}}
18-:-Djava.security.manager=allow
-Djava.util.concurrent.ForkJoinPool.common.threadFactory=\
org.opensearch.secure_sm.SecuredForkJoinWorkerThreadFactory
"""


class ClusterError(RuntimeError):
    """The cluster could not be fetched, started or stopped; the message is one line."""


def say(message: str) -> None:
    print(f"opensearch: {message}", file=sys.stderr, flush=True)


def tools_present() -> bool:
    return bool(shutil.which("java") and shutil.which("mvn"))


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch() -> None:
    """Bring both artifacts into DIST through Maven (its local repository is the cache)."""
    DIST.mkdir(parents=True, exist_ok=True)
    for art in ARTIFACTS:
        target = DIST / art.filename
        if target.is_file() and sha256(target) == art.sha256:
            continue
        say(f"fetching {art.coordinates} through Maven")
        cmd = ["mvn", "-B", "-q", "dependency:copy", f"-Dartifact={art.coordinates}",
               f"-DoutputDirectory={DIST}", "-Dmdep.overWriteReleases=true"]
        done = subprocess.run(cmd, check=False, capture_output=True, text=True, cwd=DIST)
        if done.returncode != 0 or not target.is_file():
            tail = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"]
            raise ClusterError(f"mvn could not fetch {art.coordinates}: {tail[0]}")
        got = sha256(target)
        if got != art.sha256:
            target.unlink()
            raise ClusterError(f"{art.filename}: sha256 {got}, expected {art.sha256}")


def unpack() -> None:
    """Unpack the server once (through a temporary folder, so a half-unpacked one never
    counts) and add the analysis-common module."""
    if (SERVER / "modules" / "analysis-common" / "plugin-descriptor.properties").is_file():
        return
    fetch()
    partial = HOME / f".unpacking-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    say(f"unpacking OpenSearch {VERSION}")
    with zipfile.ZipFile(DIST / ARTIFACTS[0].filename) as archive:
        for info in archive.infolist():
            path = Path(archive.extract(info, partial))
            mode = info.external_attr >> 16
            # zipfile drops the permission bits; the launch scripts need their execute bit.
            if mode and not info.is_dir():
                path.chmod(stat.S_IMODE(mode) | 0o444)
    root = partial / f"opensearch-{VERSION}"
    module = root / "modules" / "analysis-common"
    module.mkdir(parents=True)
    shutil.copy2(DIST / ARTIFACTS[1].filename, module / ARTIFACTS[1].filename)
    (module / "plugin-descriptor.properties").write_text(ANALYSIS_DESCRIPTOR)
    for path in [root, *root.rglob("*")]:
        if path.is_dir():
            path.chmod(0o755)
    shutil.rmtree(SERVER, ignore_errors=True)
    root.rename(SERVER)
    shutil.rmtree(partial, ignore_errors=True)


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_ports(preferred: list[int], taken: set[int]) -> list[int]:
    """The preferred ports when all are free, else free ports chosen by the kernel."""
    if all(port_free(p) and p not in taken for p in preferred):
        return preferred
    ports: list[int] = []
    while len(ports) < len(preferred):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port not in taken and port not in ports and port != 5000:
            ports.append(port)
    return ports


def pid_alive(pid: int) -> bool:
    """True when pid is one of our nodes (its command line names our server folder), so a
    recycled pid is never signalled."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    if state == "Z":
        return False
    if not cmdline:
        return True  # between exec steps (setpriv -> bash -> java) the command line is empty
    return str(SERVER).encode() in cmdline or str(HOME).encode() in cmdline


def read_state() -> dict | None:
    try:
        return json.loads(STATE.read_text())
    except (OSError, ValueError):
        return None


def get_json(url: str, timeout: float = 5.0) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def healthy(urls: list[str], nodes: int = NODES) -> bool:
    for url in urls:
        try:
            health = get_json(f"{url}/_cluster/health?wait_for_nodes={nodes}"
                              "&wait_for_status=yellow&timeout=2s", timeout=10)
        except (OSError, ValueError):
            continue
        if not health.get("timed_out") and health.get("status") in ("green", "yellow"):
            return True
    return False


def running() -> list[str] | None:
    """The URLs of the running cluster, when every node is alive and the cluster healthy."""
    state = read_state()
    if not state:
        return None
    if not all(pid_alive(node["pid"]) for node in state["nodes"]):
        return None
    return state["urls"] if healthy(state["urls"]) else None


def node_config(index: int, http: list[int], transport: list[int], cluster: str) -> Path:
    folder = HOME / f"node-{index + 1}"
    config = folder / "config"
    for sub in ("data", "logs", "tmp", "config"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    shutil.copy2(SERVER / "config" / "log4j2.properties", config / "log4j2.properties")
    (config / "jvm.options.d").mkdir(exist_ok=True)
    (config / "jvm.options").write_text(JVM_OPTIONS)
    settings = {
        "cluster.name": cluster,
        "node.name": f"kb-node-{index + 1}",
        "path.data": str(folder / "data"),
        "path.logs": str(folder / "logs"),
        "network.host": "127.0.0.1",
        "http.port": http[index],
        "transport.port": transport[index],
        "discovery.seed_hosts": [f"127.0.0.1:{p}" for p in transport],
        "cluster.initial_cluster_manager_nodes": [f"kb-node-{i + 1}" for i in range(NODES)],
        # a development disk is often fuller than the default watermarks allow; without
        # this the replicas would stay unassigned and the cluster yellow for no real reason
        "cluster.routing.allocation.disk.threshold_enabled": False,
    }
    # JSON is valid YAML, so the settings need no YAML writer
    (config / "opensearch.yml").write_text(json.dumps(settings, indent=1) + "\n")
    return folder


def as_service_user(cmd: list[str], folder: Path) -> list[str]:
    """OpenSearch refuses to run as root: as root, run the node as `nobody`, who owns the
    node's own folder and only reads the server."""
    if os.geteuid() != 0:
        return cmd
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, 65534, 65534)
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]


def console_tail(folder: Path, lines: int = 3) -> str:
    try:
        text = (folder / "console.log").read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no console output"
    useful = [line for line in text if "warning: no-jdk" not in line]
    return " | ".join(useful[-lines:]) or "no console output"


def start() -> list[str]:
    urls = running()
    if urls:
        say("reusing the running cluster")
        return urls
    before = read_state() or {}
    stop(quiet=True)  # a half-alive cluster from before is restarted whole
    if not tools_present():
        raise ClusterError(JAVA_MISSING)
    unpack()
    # a restarted cluster keeps its ports when it can, so URLs handed out stay valid
    old = before.get("nodes") or []
    base = int(os.environ.get("KB_OPENSEARCH_PORT") or 9200)
    http = pick_ports([n["http"] for n in old] if len(old) == NODES
                      else [base + i for i in range(NODES)], set())
    transport = pick_ports([n["transport"] for n in old] if len(old) == NODES
                           else [base + 100 + i for i in range(NODES)], set(http))
    cluster = "kb-dev-" + hashlib.sha1(str(HOME).encode()).hexdigest()[:8]
    env = dict(os.environ, JAVA_HOME=os.environ.get("JAVA_HOME") or java_home())
    nodes, procs = [], []
    for index in range(NODES):
        folder = node_config(index, http, transport, cluster)
        cmd = as_service_user([str(SERVER / "bin" / "opensearch")], folder)
        node_env = dict(env, OPENSEARCH_PATH_CONF=str(folder / "config"),
                        OPENSEARCH_TMPDIR=str(folder / "tmp"))
        with (folder / "console.log").open("wb") as console:
            # its own session: stopping `make` does not take the nodes down half-way
            proc = subprocess.Popen(cmd, cwd=folder, env=node_env, stdout=console,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        procs.append(proc)
        nodes.append({"name": f"kb-node-{index + 1}", "pid": proc.pid, "http": http[index],
                      "transport": transport[index], "folder": str(folder)})
        say(f"started kb-node-{index + 1} (pid {proc.pid}, http {http[index]}, "
            f"transport {transport[index]})")
    urls = [f"http://127.0.0.1:{p}" for p in http]
    STATE.write_text(json.dumps({"urls": urls, "nodes": nodes}, indent=1))
    deadline = time.monotonic() + START_TIMEOUT_S
    started = time.monotonic()
    while not healthy(urls):
        # our own children: poll() is exact (no reading of /proc while a node execs)
        dead = [n for n, p in zip(nodes, procs) if p.poll() is not None]
        if dead:
            reason = console_tail(Path(dead[0]["folder"]))
            stop(quiet=True)
            kill_children(procs)
            raise ClusterError(f"{dead[0]['name']} exited while starting: {reason}")
        if time.monotonic() > deadline:
            stop(quiet=True)
            kill_children(procs)
            raise ClusterError(f"cluster not healthy after {START_TIMEOUT_S}s; see {HOME}/node-*")
        say(f"waiting for the cluster ({time.monotonic() - started:.0f}s)")
        time.sleep(3)
    say(f"cluster up: {NODES} nodes in {time.monotonic() - started:.0f}s")
    return urls


def kill_children(procs: list[subprocess.Popen]) -> None:
    """Our own node processes, whatever /proc said of them: a failed start leaves none."""
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
    for proc in procs:
        proc.wait(timeout=STOP_TIMEOUT_S)


def java_home() -> str:
    java = Path(shutil.which("java") or "java").resolve()
    return str(java.parent.parent)


def stop(quiet: bool = False) -> int:
    """Stop every node named in the state file; returns how many were running."""
    state = read_state()
    if not state:
        if not quiet:
            say("no cluster is running")
        return 0
    alive = [n for n in state["nodes"] if pid_alive(n["pid"])]
    for node in alive:
        os.kill(node["pid"], signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while any(pid_alive(n["pid"]) for n in alive) and time.monotonic() < deadline:
        time.sleep(0.3)
    for node in alive:
        if pid_alive(node["pid"]):
            os.kill(node["pid"], signal.SIGKILL)
    while any(pid_alive(n["pid"]) for n in alive) and time.monotonic() < deadline + 10:
        time.sleep(0.1)
    STATE.unlink(missing_ok=True)
    if not quiet:
        say(f"stopped {len(alive)} node(s)")
    return len(alive)


def with_cluster(cmd: list[str]) -> int:
    """Run cmd with KB_OPENSEARCH_URL set. Without java/mvn the OpenSearch tests skip; with
    them, a cluster that does not start is handed to the tests as an error, so they fail."""
    env = dict(os.environ)
    started_here = False
    if not tools_present():
        say(JAVA_MISSING)
    else:
        was_running = running() is not None
        try:
            env["KB_OPENSEARCH_URL"] = ",".join(start())
            started_here = not was_running
        except ClusterError as err:
            say(f"cluster did not start: {err}")
            env["KB_OPENSEARCH_START_ERROR"] = str(err)
            env.pop("KB_OPENSEARCH_URL", None)
    try:
        return subprocess.call(cmd, env=env)
    finally:
        if started_here:
            stop()


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "help"
    try:
        if command == "up":
            print(",".join(start()))
        elif command == "down":
            stop()
        elif command == "status":
            urls = running()
            if not urls:
                say("no healthy cluster is running")
                return 1
            print(",".join(urls))
        elif command == "with-cluster":
            rest = argv[1:]
            if rest[:1] == ["--"]:
                rest = rest[1:]
            if not rest:
                raise ClusterError("with-cluster needs a command after --")
            return with_cluster(rest)
        else:
            print(__doc__)
            return 0 if command in ("help", "-h", "--help") else 2
    except ClusterError as err:
        say(f"error: {err}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
