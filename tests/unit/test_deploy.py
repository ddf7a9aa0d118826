"""Deploy files and operator docs: they parse, reference only what exists, and name real settings,
commands, services, streams and metrics. No Docker or Kubernetes here: the files are checked, not run
(except redis.conf and the ACL files, which a real server loads)."""

from __future__ import annotations

import configparser
import json
import os
import re
import runpy
import shlex
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import typer.main
import yaml
from dotenv import dotenv_values
from prometheus_client import REGISTRY
from redis.backoff import NoBackoff
from redis.retry import Retry

from shared.federation.registry import acl_file_line
from shared.runtime.cli import app as cli_app
from shared.runtime.embedded import free_port
from shared.settings import ALL_SERVICES, WEB, Settings, load_settings
from tests.conftest import server_binary

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_DIR = DEPLOY / "compose"
K8S_DIR = DEPLOY / "k8s"
DOCS = ROOT / "docs"
SETTINGS = {"LOTSE_" + name.upper() for name in Settings.model_fields}
HTTP_SERVICES = {"cases", "plans", "funding", "notifications"}  # the relay runs "federation"
RUNNABLE = {("node", "up"), ("relay",)}  # what a deployment may start
INTERPOLATION = re.compile(r"\$\{(\w+)(?::?([-?])([^}]*))?\}")


# -- helpers ------------------------------------------------------------------------------------
def yaml_docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def cli_commands() -> dict[tuple[str, ...], set[str]]:
    """Every `lotse` command path with its option names, read from the Typer app itself."""
    out: dict[tuple[str, ...], set[str]] = {}

    def walk(cmd: Any, path: tuple[str, ...]) -> None:
        for name, sub in (getattr(cmd, "commands", None) or {}).items():
            walk(sub, (*path, name))
        if not getattr(cmd, "commands", None):
            out[path] = {o for p in cmd.params for o in p.opts if o.startswith("-")}

    walk(typer.main.get_command(cli_app), ())
    return out


COMMANDS = cli_commands()


def split_command(args: list[str]) -> tuple[tuple[str, ...], list[str]]:
    """(`lotse` command path, the remaining arguments); fails on an unknown command."""
    for n in (2, 1):
        path = tuple(args[:n])
        if path in COMMANDS:
            return path, args[n:]
    raise AssertionError(f"not a lotse command: lotse {' '.join(args)}")


def check_options(path: tuple[str, ...], rest: list[str]) -> None:
    for arg in rest:
        if arg.startswith("--"):
            assert arg.split("=")[0] in COMMANDS[path], f"lotse {' '.join(path)} has no option {arg}"


def check_runnable(command: list[str]) -> set[str]:
    """A container/unit command: `lotse node up [--services ...]` or `lotse relay`; its services."""
    assert command[0] == "lotse" or command[0].endswith("/lotse"), command
    path, rest = split_command(command[1:])
    assert path in RUNNABLE, f"a deployment runs `lotse node up` or `lotse relay`, not {path}"
    check_options(path, rest)
    if path == ("relay",):
        return {"federation"}
    if "--services" not in rest:
        return set(ALL_SERVICES)
    services = set(rest[rest.index("--services") + 1].split(","))
    assert services <= {*ALL_SERVICES, WEB}, f"--services {services - {*ALL_SERVICES, WEB}} unknown"
    return services


def validate_settings(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Load settings exactly as a node would from these variables (and nothing else)."""
    unknown = sorted(set(env) - SETTINGS)
    assert not unknown, f"not LOTSE_* settings: {unknown}"
    for key in [k for k in os.environ if k.startswith("LOTSE_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return load_settings()


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR:?error}, with .env.example as the .env."""

    def one(m: re.Match[str]) -> str:
        name, kind, arg = m.group(1), m.group(2), m.group(3)
        if variables.get(name):
            return variables[name]
        assert kind != "?", f"${{{name}}} is required but not in .env.example"
        return arg or ""

    return INTERPOLATION.sub(one, value)


def compose_files() -> list[Path]:
    return sorted(COMPOSE_DIR.glob("*.yaml"))


def is_migration(svc: dict[str, Any]) -> bool:
    """The one-shot `lotse db upgrade` a deployment runs before its nodes."""
    return list(svc.get("command") or [])[:3] == ["lotse", "db", "upgrade"]


def lotse_services(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The long-running Lotse containers (not the migration job)."""
    for name, svc in doc["services"].items():
        if str(svc.get("image", "")).startswith("lotse:") and not is_migration(svc):
            yield name, svc


def k8s_docs() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(K8S_DIR.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs += yaml_docs(path)
    return docs


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [d for d in k8s_docs() if d["kind"] == kind]


def deployment_command(dep: dict[str, Any]) -> list[str]:
    (container,) = dep["spec"]["template"]["spec"]["containers"]
    return [*container.get("command", []), *container.get("args", [])]


# -- every YAML file ----------------------------------------------------------------------------
@pytest.mark.parametrize("path", sorted(DEPLOY.rglob("*.yaml")), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_yaml_file_parses_into_mappings(path: Path) -> None:
    docs = yaml_docs(path)
    assert docs and all(isinstance(d, dict) for d in docs)


def test_every_lotse_variable_named_in_deploy_is_a_setting() -> None:
    named: dict[str, set[str]] = {}
    for path in DEPLOY.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            for name in re.findall(r"\bLOTSE_[A-Z0-9_]*[A-Z0-9]", path.read_text(errors="replace")):
                named.setdefault(name.split("__")[0], set()).add(str(path.relative_to(DEPLOY)))
    assert named, "deploy/ names no LOTSE_* setting at all?"
    unknown = {name: files for name, files in named.items() if name not in SETTINGS}
    assert not unknown, f"not Settings fields: {unknown}"


# -- Dockerfile ---------------------------------------------------------------------------------
def test_dockerfile_builds_from_the_pinned_constraints_and_runs_as_a_user() -> None:
    text = (DEPLOY / "docker" / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    froms = [ln.split()[1] for ln in lines if ln.startswith("FROM ")]
    assert froms and all(f == "python:3.11-slim" for f in froms)
    assert any(ln.startswith("RUN ") and "pip install -c constraints.txt ." in ln for ln in lines)
    for ln in lines:
        if ln.startswith("COPY ") and "--from=" not in ln:
            for src in ln.split()[1:-1]:
                assert (ROOT / src).exists(), f"COPY source {src} missing"
    users = [ln.split()[1] for ln in lines if ln.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    cmd = json.loads(next(ln for ln in reversed(lines) if ln.startswith("CMD "))[4:])
    assert cmd == ["lotse", "node", "up"] and check_runnable(cmd) == set(ALL_SERVICES)
    assert "EXPOSE 8000" in lines and "LOTSE_HTTP_PORT=8000" in text


# -- compose ------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", compose_files(), ids=lambda p: p.name)
def test_compose_references_only_what_it_defines(path: Path) -> None:
    doc = yaml_docs(path)[0]
    services, volumes = doc["services"], set(doc.get("volumes") or {})
    used_volumes: set[str] = set()
    for name, svc in services.items():
        depends = svc.get("depends_on") or []
        assert set(depends) <= set(services), f"{name} depends on an undefined service"
        for mount in svc.get("volumes") or []:
            source = mount["source"] if isinstance(mount, dict) else mount.split(":")[0]
            if source.startswith(("../", "/")):
                assert (path.parent / source).exists(), f"{name} mounts missing {source}"
            elif not source.startswith("./"):
                assert source in volumes, f"{name} uses undefined volume {source}"
                used_volumes.add(source)
        if "build" in svc:
            context = path.parent / svc["build"]["context"]
            assert (context / svc["build"].get("dockerfile", "Dockerfile")).is_file()
    assert used_volumes == volumes, f"volumes defined but unused: {volumes - used_volumes}"


@pytest.mark.parametrize("path", compose_files(), ids=lambda p: p.name)
def test_compose_runs_lotse_commands_with_valid_settings(
        path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = yaml_docs(path)[0]
    dotenv = {k: v or "" for k, v in dotenv_values(COMPOSE_DIR / ".env.example").items()}
    found = list(lotse_services(doc))
    assert found, "no Lotse service"
    for _, svc in found:
        check_runnable(svc["command"])
        env = {k: interpolate(str(v), dotenv) for k, v in svc["environment"].items()}
        settings = validate_settings(env, monkeypatch)
        assert settings.http_host == "0.0.0.0" and str(settings.data_dir) == "/var/lib/lotse"
        assert settings.redis_url and settings.database_url and "{service}" in settings.database_url


@pytest.mark.parametrize("path", compose_files(), ids=lambda p: p.name)
def test_compose_upgrades_the_schemas_once_before_any_node_starts(
        path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = yaml_docs(path)[0]
    dotenv = {k: v or "" for k, v in dotenv_values(COMPOSE_DIR / ".env.example").items()}
    (name, job), = [(n, s) for n, s in doc["services"].items() if is_migration(s)]
    check_options(*split_command(job["command"][1:]))
    assert job["restart"] == "no" and job["depends_on"]["postgres"]["condition"] == "service_healthy"
    env = {k: interpolate(str(v), dotenv) for k, v in job["environment"].items()}
    migrated = validate_settings(env, monkeypatch)
    for service, svc in lotse_services(doc):
        assert svc["depends_on"][name] == {"condition": "service_completed_successfully"}, service
        settings = validate_settings({k: interpolate(str(v), dotenv) for k, v in svc["environment"].items()},
                                     monkeypatch)
        assert not settings.db_auto_upgrade, f"{service}: the job upgrades, not the node"
        assert (settings.database_url, settings.level) == (migrated.database_url, migrated.level), service


def test_all_in_one_compose_files_run_every_service_in_one_process() -> None:
    for name in ("municipal.yaml", "state.yaml"):
        (only,) = lotse_services(yaml_docs(COMPOSE_DIR / name)[0])
        assert check_runnable(only[1]["command"]) == set(ALL_SERVICES)


def test_split_compose_runs_a_container_per_service_one_relay_and_routes_each_prefix() -> None:
    doc = yaml_docs(COMPOSE_DIR / "split.yaml")[0]
    runs = {name: check_runnable(svc["command"]) for name, svc in lotse_services(doc)}
    relays = [name for name, services in runs.items() if services == {"federation"}]
    assert len(relays) == 1, "exactly one relay per node"
    per_service = {name: services for name, services in runs.items() if name not in relays}
    assert all(len(s) == 1 for s in per_service.values())
    assert set().union(*per_service.values()) == HTTP_SERVICES | {WEB}
    nginx = (COMPOSE_DIR / "nginx.conf").read_text()
    routes = dict(re.findall(r"location /api/(\w+)/ \{\s*set \$\w+ http://([\w-]+):8000;", nginx))
    assert routes.keys() == HTTP_SERVICES
    for prefix, target in routes.items():
        assert per_service.get(target) == {prefix}, f"/api/{prefix}/ goes to {target}"
    (web_target,) = re.findall(r"location / \{\s*set \$\w+ http://([\w-]+):8000;", nginx)
    assert per_service.get(web_target) == {WEB}, "every other path goes to the web app"
    web = doc["services"][web_target]
    assert web["environment"]["LOTSE_WEB_API_URL"] == "http://proxy:80", "the web app calls the API through the proxy"
    proxy = doc["services"]["proxy"]
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in proxy["volumes"]


def test_compose_redis_uses_the_shipped_config_and_an_acl_file() -> None:
    for path in compose_files():
        svc = yaml_docs(path)[0]["services"]["redis"]
        assert svc["command"][:2] == ["redis-server", "/usr/local/etc/redis/redis.conf"]
        assert "../redis/redis.conf:/usr/local/etc/redis/redis.conf:ro" in svc["volumes"]
        assert any(str(v).endswith(":/etc/redis/acl") for v in svc["volumes"])


# -- Kubernetes ---------------------------------------------------------------------------------
def test_k8s_manifests_have_the_required_fields_and_no_namespace() -> None:
    docs = k8s_docs()
    assert {d["kind"] for d in docs} >= {"Deployment", "Service", "Ingress", "ConfigMap", "Secret"}
    for d in docs:
        assert d.get("apiVersion") and d.get("kind") and d["metadata"].get("name"), d
        assert "namespace" not in d["metadata"], f"{d['metadata']['name']}: namespace-free manifests"


def test_kustomization_lists_every_manifest_but_the_secret_example() -> None:
    (kust,) = yaml_docs(K8S_DIR / "kustomization.yaml")
    expected = {p.name for p in K8S_DIR.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert set(kust["resources"]) == expected


def test_k8s_deployments_probe_health_take_config_and_run_one_relay() -> None:
    configmaps = {d["metadata"]["name"] for d in of_kind("ConfigMap")}
    secrets = {d["metadata"]["name"]: d for d in of_kind("Secret")}
    runs: dict[str, set[str]] = {}
    for dep in of_kind("Deployment"):
        name, spec = dep["metadata"]["name"], dep["spec"]
        pod = spec["template"]["spec"]
        assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
        (container,) = pod["containers"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
        refs = container["envFrom"]
        assert {r["configMapRef"]["name"] for r in refs if "configMapRef" in r} <= configmaps
        assert {r["secretRef"]["name"] for r in refs if "secretRef" in r} <= set(secrets)
        for var in container.get("env", []):
            assert var["name"] in SETTINGS
            ref = var.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                assert ref["key"] in secrets[ref["name"]].get("stringData", {}), ref
        for vol in pod.get("volumes", []):
            if "secret" in vol:
                assert vol["secret"]["secretName"] in secrets
        mounted = {v["name"] for v in pod.get("volumes", [])}
        assert {m["name"] for m in container.get("volumeMounts", [])} <= mounted
        assert pod["securityContext"]["runAsNonRoot"] is True
        runs[name] = check_runnable(deployment_command(dep))
        if runs[name] == {"federation"}:
            # one relay per node: order per aggregate on the way to the state (deploy/k8s/relay.yaml)
            assert spec["replicas"] == 1 and spec["strategy"]["type"] == "Recreate", name
    relays = [n for n, s in runs.items() if s == {"federation"}]
    assert len(relays) == 1
    others = [s for n, s in runs.items() if n not in relays]
    assert all(len(s) == 1 for s in others) and set().union(*others) == HTTP_SERVICES | {WEB}


def test_k8s_services_select_deployments_and_the_ingress_routes_each_prefix() -> None:
    deployments = of_kind("Deployment")
    services = {s["metadata"]["name"]: s for s in of_kind("Service")}
    serves: dict[str, set[str]] = {}
    for name, svc in services.items():
        selector = svc["spec"]["selector"].items()
        (dep,) = [d for d in deployments if selector <= d["spec"]["template"]["metadata"]["labels"].items()]
        ports = {p["name"] for p in dep["spec"]["template"]["spec"]["containers"][0]["ports"]}
        assert {p["targetPort"] for p in svc["spec"]["ports"]} <= ports, name
        serves[name] = check_runnable(deployment_command(dep))
    (ingress,) = of_kind("Ingress")
    routed = {}
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            assert backend["name"] in services
            assert backend["port"]["name"] in {p["name"] for p in services[backend["name"]]["spec"]["ports"]}
            routed[path["path"]] = serves[backend["name"]]
    assert routed == {**{f"/api/{s}": {s} for s in HTTP_SERVICES}, "/": {WEB}}


def test_k8s_config_and_secrets_are_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    (config,) = of_kind("ConfigMap")
    assert "LOTSE_SERVICES" not in config["data"], "services are chosen per Deployment"
    env = dict(config["data"])
    for secret in of_kind("Secret"):
        env.update(secret.get("stringData") or {})
    settings = validate_settings(env, monkeypatch)
    assert settings.level == "municipal" and settings.state_redis_url
    assert settings.oidc_issuer, "split pods need OIDC: each pod's dev-token key differs"
    assert settings.database_url and "{service}" in settings.database_url
    assert settings.database_url_for("plans").endswith("/lotse_plans")
    assert not settings.db_auto_upgrade, "the Job in migrate.yaml upgrades the schemas"


def test_k8s_job_upgrades_the_schemas_with_the_pods_settings() -> None:
    (job,) = of_kind("Job")
    assert "migrate.yaml" in yaml_docs(K8S_DIR / "kustomization.yaml")[0]["resources"]
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["lotse", "db", "upgrade"]
    check_options(*split_command(container["command"][1:]))
    assert pod["restartPolicy"] in ("OnFailure", "Never") and pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    refs = {json.dumps(r, sort_keys=True) for r in container["envFrom"]}
    for dep in of_kind("Deployment"):  # the same database URLs and level as every pod
        if check_runnable(deployment_command(dep)) == {WEB}:
            continue  # the web app has no database: it calls the APIs
        (pod_container,) = dep["spec"]["template"]["spec"]["containers"]
        assert {json.dumps(r, sort_keys=True) for r in pod_container["envFrom"]} == refs


# -- systemd ------------------------------------------------------------------------------------
def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((DEPLOY / "systemd" / name).read_text())
    return parser


@pytest.mark.parametrize("name", ["lotse-node.service", "lotse-relay.service"])
def test_systemd_units_run_lotse_hardened_from_the_env_file(name: str) -> None:
    u = unit(name)
    service = u["Service"]
    args = shlex.split(service["ExecStart"])
    if args[0] == "/usr/bin/env":  # env VAR=value ... lotse ...
        assigns = [a for a in args[1:] if "=" in a and not a.startswith("/")]
        assert {a.split("=")[0] for a in assigns} <= SETTINGS
        args = args[1 + len(assigns):]
    assert args[0] == "/opt/lotse/bin/lotse"
    services = check_runnable(args)
    assert services == ({"federation"} if name == "lotse-relay.service" else set(ALL_SERVICES))
    assert service["EnvironmentFile"] == "/etc/lotse/lotse.env"
    assert service["User"] == "lotse"
    data_dir = dotenv_values(DEPLOY / "systemd" / "lotse.env.example")["LOTSE_DATA_DIR"]
    assert data_dir in service["ReadWritePaths"].split()
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
                       "PrivateTmp": "yes", "CapabilityBoundingSet": ""}.items():
        assert service[key] == value, key
    assert u["Install"]["WantedBy"] == "multi-user.target"


def test_systemd_env_example_is_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {k: v or "" for k, v in dotenv_values(DEPLOY / "systemd" / "lotse.env.example").items()}
    settings = validate_settings(env, monkeypatch)
    assert settings.mailboxes and settings.state_redis_url and "{service}" in str(settings.database_url)
    assert not settings.db_auto_upgrade, "the units' ExecStartPre upgrades the schemas"


@pytest.mark.parametrize(("name", "options"), [("lotse-node.service", []),
                                               ("lotse-relay.service", ["--service", "federation"])])
def test_systemd_units_upgrade_the_schemas_before_the_node_starts(name: str, options: list[str]) -> None:
    text = (DEPLOY / "systemd" / name).read_text()
    pre = [shlex.split(ln.split("=", 1)[1]) for ln in text.splitlines() if ln.startswith("ExecStartPre=")]
    upgrades = [args for args in pre if args[0] == "/opt/lotse/bin/lotse"]
    assert upgrades == [["/opt/lotse/bin/lotse", "db", "upgrade", *options]]
    check_options(*split_command(upgrades[0][1:]))


def test_relay_unit_refuses_a_second_relay() -> None:
    pre = unit("lotse-relay.service")["Service"]["ExecStartPre"]
    script = shlex.split(pre.replace("$$", "$"))[2]  # systemd turns $$ into $
    for services, ok in (("cases,plans,funding,notifications", True), ("", False),
                         ("cases,federation", False)):
        result = subprocess.run(["sh", "-c", script], env={"LOTSE_SERVICES": services},
                                capture_output=True, timeout=10)
        assert (result.returncode == 0) == ok, services


# -- Redis --------------------------------------------------------------------------------------
ACL_MAKER = runpy.run_path(str(DEPLOY / "redis" / "make_users_acl.py"))


def redis_directives() -> dict[str, str]:
    out = {}
    for line in (DEPLOY / "redis" / "redis.conf").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.strip().partition(" ")
            out[key] = value
    return out


def test_redis_conf_enables_aof_everysec_and_an_acl_file() -> None:
    conf = redis_directives()
    assert conf["appendonly"] == "yes" and conf["appendfsync"] == "everysec"
    assert conf["aclfile"] == "/etc/redis/acl/users.acl"
    assert conf["protected-mode"] == "yes"
    assert conf["maxmemory-policy"] == "noeviction", "an evicted stream is a lost event"
    assert "user" not in conf and "requirepass" not in conf, "users belong in the ACL file"


@pytest.mark.parametrize("name", ["users.acl.example", "municipal-users.acl.example"])
def test_acl_examples_are_what_the_generator_writes(name: str) -> None:
    assert (DEPLOY / "redis" / name).read_text() == ACL_MAKER["render_example"](name)


def test_state_acl_example_has_the_node_user_exactly_as_the_registry_writes_it() -> None:
    lines = (DEPLOY / "redis" / "users.acl.example").read_text().splitlines()
    (node_line,) = [ln for ln in lines if ln.startswith("user node-")]
    node_id, password = ACL_MAKER["EXAMPLE_NODE"], ACL_MAKER["EXAMPLE_NODE_PASSWORD"]
    assert node_line == acl_file_line(node_id, password)
    assert "lotse-app" in "\n".join(lines) and lines[0].startswith("user default off")


def assert_denied(*calls: Callable[[], object]) -> None:
    for call in calls:
        with pytest.raises(redis.exceptions.NoPermissionError):
            call()


def test_redis_conf_and_state_acl_file_load_in_a_real_server(server_kind: str, tmp_path: Path) -> None:
    """redis.conf as shipped (only dir/aclfile moved), the state ACL example: who may do what."""
    acl = tmp_path / "users.acl"
    acl.write_text((DEPLOY / "redis" / "users.acl.example").read_text())
    conf = (DEPLOY / "redis" / "redis.conf").read_text()
    conf = conf.replace("dir /data", f"dir {tmp_path}").replace(
        "aclfile /etc/redis/acl/users.acl", f"aclfile {acl}")
    (tmp_path / "redis.conf").write_text(conf)
    port = free_port()
    proc = subprocess.Popen([server_binary(server_kind), str(tmp_path / "redis.conf"), "--port", str(port),
                             "--bind", "127.0.0.1", "--logfile", str(tmp_path / "log")])
    m = ACL_MAKER
    node_id = m["EXAMPLE_NODE"]

    def client(user: str | None = None, password: str | None = None) -> redis.Redis:
        return redis.Redis(port=port, username=user, password=password, socket_connect_timeout=1,
                           retry=Retry(NoBackoff(), 0))  # fail at once: a refusal is the answer

    try:
        deadline = time.monotonic() + 10
        while True:  # a plain socket: redis-py would back off for seconds on every refusal
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "log").read_text()[-800:]
                assert time.monotonic() < deadline, "server did not answer"
                time.sleep(0.05)
        admin = client("lotse-admin", m["EXAMPLE_ADMIN_PASSWORD"])
        assert admin.config_get("appendonly") == {"appendonly": "yes"}
        app = client("lotse-app", m["EXAMPLE_APP_PASSWORD"])
        app.xadd("lotse:events:cases", {"event": "{}"})
        app.xgroup_create("lotse:events:cases", "plans", id="0")
        app.hset("lotse:fed:checkpoint", "x", "1-0")
        assert app.info("server")["redis_version"]
        assert_denied(app.flushall, lambda: app.config_get("dir"), lambda: app.keys("*"),
                      lambda: app.xadd("other", {"a": "1"}), app.acl_list)
        node = client(f"node-{node_id}", m["EXAMPLE_NODE_PASSWORD"])
        node.xadd(f"lotse:fed:in:{node_id}", {"event": "{}", "sig": "x"})
        node.xread({f"lotse:fed:down:{node_id}": "0-0", "lotse:fed:down:all": "0-0"})
        assert_denied(lambda: node.xadd("lotse:fed:in:another-node", {"a": "1"}),
                      lambda: node.xadd(f"lotse:fed:down:{node_id}", {"a": "1"}),
                      lambda: node.xrange("lotse:events:cases"))
        with pytest.raises(redis.exceptions.AuthenticationError):
            client().ping()  # the default user is off
        for c in (admin, app, node):
            c.close()
    finally:
        proc.terminate()
        proc.wait(10)


# -- PostgreSQL and the collector ---------------------------------------------------------------
def test_postgres_init_creates_a_database_per_service_and_one_for_the_keys() -> None:
    sql = (DEPLOY / "postgres" / "init-databases.sql").read_text()
    assert set(re.findall(r"CREATE DATABASE (\w+);", sql)) == {f"lotse_{s}" for s in [*ALL_SERVICES, "keys"]}


def test_otel_collector_pipeline_uses_only_defined_components() -> None:
    (conf,) = yaml_docs(DEPLOY / "otel" / "collector.yaml")
    assert conf["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")
    traces = conf["service"]["pipelines"]["traces"]
    assert traces["receivers"] == ["otlp"] and "batch" in traces["processors"]
    for kind in ("receivers", "processors", "exporters"):
        assert set(traces[kind]) <= set(conf[kind]), kind
    assert set(traces["exporters"]) & {"debug", "otlp"}
    assert set(conf["service"].get("extensions", [])) <= set(conf.get("extensions", {}))
    for path in ("municipal.yaml", "split.yaml"):
        doc = yaml_docs(COMPOSE_DIR / path)[0]
        assert "otel-collector" in doc["services"]
        for _, svc in lotse_services(doc):
            assert svc["environment"]["LOTSE_OTLP_ENDPOINT"] == "http://otel-collector:4318"


# -- the operator docs stay in step with the code ------------------------------------------------
def test_operations_doc_lists_every_setting_and_names_only_real_ones() -> None:
    text = (DOCS / "operations.md").read_text()
    missing = sorted(s for s in SETTINGS if f"`{s}`" not in text)
    assert not missing, f"docs/operations.md lacks settings: {missing}"
    named = set(re.findall(r"\bLOTSE_[A-Z0-9_]*[A-Z0-9]", text + (DOCS / "architecture.md").read_text()))
    assert named - SETTINGS <= {"LOTSE_CONFIG"}, named - SETTINGS - {"LOTSE_CONFIG"}


def test_operations_doc_lists_every_metric() -> None:
    import shared.bus.metrics  # noqa: F401
    import shared.federation.ingest  # noqa: F401
    import shared.federation.relay  # noqa: F401

    text = (DOCS / "operations.md").read_text()
    names = {m.name for m in REGISTRY.collect() if m.name.startswith("lotse_")}
    assert names and not sorted(n for n in names if f"`{n}" not in text)


def is_lotse_call(tokens: list[str], i: int) -> bool:
    """Is tokens[i] the `lotse` program (not, say, the group in `install -g lotse`)?"""
    if tokens[i].endswith("/bin/lotse"):
        return True
    prev = tokens[i - 1] if i else ""
    return tokens[i] == "lotse" and (
        i == 0 or prev in {"--", "&&", "||", ";"} or bool(re.match(r"^[A-Z_]+=", prev))
        or "exec" in tokens[:i])


def test_operations_doc_commands_exist() -> None:
    text = (DOCS / "operations.md").read_text()
    blocks = re.findall(r"```(?:sh|bash|console)\n(.*?)```", text, re.S)
    seen = 0
    for line in "\n".join(blocks).replace("\\\n", " ").splitlines():
        tokens = shlex.split(line, comments=True)
        for i in range(len(tokens) - 1):
            if is_lotse_call(tokens, i):
                path, rest = split_command(tokens[i + 1:])
                check_options(path, rest)
                seen += 1
    assert seen >= 10


def test_architecture_doc_lists_every_stream_and_consumer_group() -> None:
    from shared.events import DEAD_LETTERS, STREAMS
    from shared.federation.ingest import INGEST_GROUP
    from shared.federation.relay import UP_GROUP, UP_STREAMS
    from shared.service import ServiceContext, discover

    rows = [ln for ln in (DOCS / "architecture.md").read_text().splitlines() if ln.startswith("|")]
    pairs = {(s, UP_GROUP) for s in UP_STREAMS}
    for level in ("municipal", "state"):
        settings = Settings(level=level)
        for name, spec in discover().items():
            for sub in spec.at(level).subscriptions(ServiceContext(name, settings, None)):
                pairs.add((sub.stream, sub.group))
    missing = sorted(p for p in pairs if not any(f"`{p[0]}`" in r and f"`{p[1]}`" in r for r in rows))
    assert not missing, f"docs/architecture.md lacks (stream, group) rows: {missing}"
    text = "\n".join(rows)
    for name in [*STREAMS.values(), DEAD_LETTERS, INGEST_GROUP]:
        assert f"`{name}`" in text, name
