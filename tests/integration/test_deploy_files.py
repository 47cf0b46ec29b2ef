"""The deployment files are valid before anyone deploys them: the compose file against the
Compose specification, the Kubernetes manifests against the Kubernetes schemas (and the
custom resources against what they refer to), Prometheus' configuration and alerting rules
with promtool, the Grafana dashboard's queries against the metrics the services export."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from tests.deployment import (
    COMPOSE_VARIABLES,
    ROLES_SQL,
    USERS_SH,
    DatabaseRoles,
    bind_mounts,
    compose_services,
    kubernetes_secrets,
    kubernetes_services,
    of_kind,
    render_overlay,
)

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
KUBERNETES_VERSION = "1.30.0"
CUSTOM_KINDS = {"RabbitmqCluster", "User", "Permission", "ScaledObject", "TriggerAuthentication"}


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail(
            "promtool is missing: install Prometheus (Debian: apt-get install prometheus)",
            pytrace=False,
        )
    return found


def test_the_compose_file_follows_the_compose_specification() -> None:
    result = subprocess.run(
        [
            str(Path(shutil.which("check-jsonschema") or ".venv/bin/check-jsonschema")),
            "--builtin-schema",
            "vendor.compose-spec",
            str(DEPLOY / "compose.yaml"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_file_runs_every_service_and_scales_dispatch() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    for name in ("registry", "intake", "dispatch", "digest", "gateway-simulator", "connectors"):
        assert services[name]["command"] == [f"services.{name.replace('-', '_')}"]
    # A fixed host port would make `--scale dispatch=N` fail.
    assert "ports" not in services["dispatch"]


def test_every_file_a_deploy_file_names_exists() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    mounts = bind_mounts(compose)
    assert mounts, "no bind mount found"
    for source in mounts:
        assert source.exists(), f"compose mounts {source}, which does not exist"
    # What a container runs from a mounted file is mounted there.
    for name, service in compose["services"].items():
        targets = {v.split(":")[1] for v in service.get("volumes", []) if isinstance(v, str)}
        hooks = [" ".join(h["command"]) for h in service.get("post_start", [])]
        for path in re.findall(r"/etc/\S+", " ".join(hooks)):
            assert path in targets, f"{name} runs {path}, which it does not mount"
    init = (DEPLOY / "postgres" / "init.sh").read_text()
    [roles] = re.findall(r"-f (\S+)", init)
    assert roles in {v.split(":")[1] for v in compose["services"]["postgres"]["volumes"]}
    for kustomization in KUBERNETES.glob("**/kustomization.yaml"):
        for resource in yaml.safe_load(kustomization.read_text())["resources"]:
            assert (kustomization.parent / resource).exists(), resource


def _image_pinned(image: str) -> bool:
    _, _, tag = image.rpartition(":")
    return bool(re.search(r"\d+\.\d+", tag)) and "latest" not in tag


def test_every_image_is_pinned() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    for name, service in compose["services"].items():
        # Built here from this repository (the one image of every service).
        if "build" not in service:
            assert _image_pinned(service["image"]), f"compose {name}: {service['image']}"
    for overlay in ("zone", "regional"):
        rendered = render_overlay(overlay)
        images = [
            c["image"]
            for d in of_kind(rendered, "Deployment").values()
            for c in d["spec"]["template"]["spec"]["containers"]
        ]
        images += [
            c["image"]
            for j in of_kind(rendered, "Job").values()
            for c in j["spec"]["template"]["spec"]["containers"]
        ]
        images += [r["spec"]["image"] for r in of_kind(rendered, "RabbitmqCluster").values()]
        assert images and all(_image_pinned(i) for i in images), images
    stages: set[str] = set()
    for line in (DEPLOY / "Dockerfile").read_text().splitlines():
        if line.startswith("FROM "):
            words = line.split()
            # A stage built on an earlier stage of the file (the connectors' own) is no image.
            if words[1] not in stages:
                assert _image_pinned(words[1]), line
            if len(words) == 4 and words[2].upper() == "AS":
                stages.add(words[3])


def _url_host(value: str) -> str | None:
    return urlsplit(value).hostname if "://" in value else None


def test_deployed_services_reach_each_other_and_members_reach_the_public_address() -> None:
    """The faults these files once had: the registry fetching its report's parts from
    127.0.0.1, members' links to http://127.0.0.1:8001, every compose service sending
    progress links to localhost:8003; and nothing of the development environment."""
    kubernetes = {
        s.module: s.env for s in kubernetes_services(render_overlay("zone"), SECRETS).values()
    }
    compose = {s.module: s.env for s in compose_services(COMPOSE_VARIABLES).values()}
    for deployed, names in (
        (kubernetes, {"bin-intake", "bin-dispatch"}),
        (compose, {"intake", "dispatch"}),
    ):
        registry = deployed["registry"]
        assert {
            _url_host(registry["BIN_INTAKE_URL"]),
            _url_host(registry["BIN_DISPATCH_URL"]),
        } == names
        assert deployed["dispatch"]["BIN_PREFERENCES_BASE_URL"].startswith("https://")
        assert deployed["dispatch"]["BIN_PREFERENCES_BASE_URL"].endswith("/preferences")
        for module, env in deployed.items():
            assert "BIN_ENVIRONMENT" not in env, module
            for key, value in env.items():
                assert _url_host(value) not in {"localhost", "127.0.0.1"}, (module, key, value)
        for module in ("registry", "intake"):
            assert deployed[module]["BIN_CONSOLE_SECURE_COOKIE"] == "true"
    assert kubernetes["registry"]["BIN_QUEUE_TYPE"] == "quorum"
    assert "BIN_QUEUE_TYPE" not in compose["registry"]  # quorum, the default


def test_each_service_has_a_broker_user_and_a_database_role_of_its_own() -> None:
    compose = compose_services(COMPOSE_VARIABLES, profiles=("connectors",))
    users = {
        n: urlsplit(s.env["BIN_AMQP_URL"]).username
        for n, s in compose.items()
        if "BIN_AMQP_URL" in s.env
    }
    roles = {
        n: urlsplit(s.env["BIN_DATABASE_URL"]).username
        for n, s in compose.items()
        if "BIN_DATABASE_URL" in s.env
    }
    assert len(set(users.values())) == len(users) == 6, users
    assert len(set(roles.values())) == len(roles) == 6, roles  # the five and the migration
    sql = ROLES_SQL.read_text()
    assert "SUPERUSER" not in sql.upper() and "CREATEROLE" not in sql.upper()
    for role in roles.values():
        assert role and role.startswith("bin_") and f"\\set {role.removeprefix('bin_')} " in sql, (
            role
        )
    for user in users.values():
        assert user and f"user {user.removeprefix('bin-')} " in USERS_SH.read_text(), user


def test_every_secret_the_manifests_use_is_documented() -> None:
    operations = (ROOT / "docs" / "operations.md").read_text()
    rendered = render_overlay("zone")
    names = set()
    for workload in [*of_kind(rendered, "Deployment").values(), *of_kind(rendered, "Job").values()]:
        pod = workload["spec"]["template"]["spec"]
        for container in pod["containers"]:
            names |= {
                s["secretRef"]["name"] for s in container.get("envFrom", []) if "secretRef" in s
            }
        names |= {v["secret"]["secretName"] for v in pod.get("volumes", []) if "secret" in v}
    for user in of_kind(rendered, "User").values():
        names.add(user["spec"]["importCredentialsSecret"]["name"])
    for trigger in of_kind(rendered, "TriggerAuthentication").values():
        names |= {t["name"] for t in trigger["spec"]["secretTargetRef"]}
    missing = sorted(n for n in names if f"`{n}`" not in operations)
    assert not missing, f"docs/operations.md does not list the Secrets {missing}"


def _manifests(folder: Path) -> list[dict[str, Any]]:
    documents = []
    for path in sorted(folder.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        documents += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return documents


BASE = _manifests(KUBERNETES / "base")
# The Secrets an operator creates, with values that only have to be there.
SECRETS = kubernetes_secrets(
    {
        f"bin-{u}": f"bin-{u}"
        for u in ("registry", "intake", "dispatch", "digest", "connectors", "gateway", "subscriber")
    },
    "amqp://bin:secret@bin-rabbitmq:5672/",
    "bin",
    DatabaseRoles("postgresql://postgres@postgres.example.be:5432/bin", "bin_"),
)


@pytest.mark.parametrize(
    "manifest",
    [m for m in BASE if m["kind"] not in CUSTOM_KINDS],
    ids=lambda m: f"{m['kind']}/{m['metadata']['name']}",
)
def test_each_kubernetes_manifest_is_valid(manifest: dict[str, Any]) -> None:
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_every_file_is_in_the_kustomization_and_every_patch_hits_a_resource() -> None:
    base = yaml.safe_load((KUBERNETES / "base" / "kustomization.yaml").read_text())
    listed = set(base["resources"])
    on_disk = {p.name for p in (KUBERNETES / "base").glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk
    for overlay in (KUBERNETES / "overlays").iterdir():
        kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
        assert kustomization["resources"] == ["../../base"]
        for patch in kustomization.get("patches", []):
            target = patch["target"]
            hits = [
                m
                for m in BASE
                if m["kind"] == target["kind"]
                and re.fullmatch(target["name"], m["metadata"]["name"])
            ]
            assert hits, f"{overlay.name}: patch for {target} matches nothing"


def test_custom_resources_refer_to_what_exists() -> None:
    names = {(m["kind"], m["metadata"]["name"]) for m in BASE}
    for m in BASE:
        spec = m.get("spec", {})
        if m["kind"] == "ScaledObject":
            assert ("Deployment", spec["scaleTargetRef"]["name"]) in names
            for trigger in spec["triggers"]:
                assert ("TriggerAuthentication", trigger["authenticationRef"]["name"]) in names
                assert trigger["metadata"]["queueName"].startswith("bin.dispatch.")
        if m["kind"] == "Permission":
            assert ("User", spec["userReference"]["name"]) in names
            for pattern in spec["permissions"].values():
                re.compile(pattern)
        if m["kind"] in {"User", "Permission"}:
            assert ("RabbitmqCluster", spec["rabbitmqClusterReference"]["name"]) in names


def test_deployments_probe_health_run_unprivileged_and_keep_secrets_out_of_git() -> None:
    deployments = [m for m in BASE if m["kind"] == "Deployment"]
    assert {d["metadata"]["name"] for d in deployments} == {
        "bin-registry",
        "bin-intake",
        "bin-dispatch",
        "bin-digest",
        "bin-connectors",
    }
    budgets = {m["metadata"]["name"] for m in BASE if m["kind"] == "PodDisruptionBudget"}
    for deployment in deployments:
        assert deployment["metadata"]["name"] in budgets
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        [container] = pod["containers"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["resources"]["requests"] and container["resources"]["limits"]
    assert not [m for m in BASE if m["kind"] == "Secret"], "secrets belong in the cluster"


def test_prometheus_configuration_and_alerting_rules_pass_promtool() -> None:
    tool = promtool()
    for args in (
        ["check", "config", str(DEPLOY / "prometheus" / "compose.yml")],
        ["check", "rules", str(DEPLOY / "prometheus" / "rules.yml")],
    ):
        result = subprocess.run([tool, *args], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr


def _metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\b(bin_[a-z_]+?)(?:_bucket|_sum|_count)?\b(?=[{\[(\s)]|$)", expr))


def test_dashboards_and_rules_use_metrics_the_services_export() -> None:
    import prometheus_client

    # Registering the services' metrics is what importing their modules does.
    import services.digest.metrics
    import services.dispatch.metrics  # noqa: F401
    import shared.metrics  # noqa: F401

    # Every series name a registered metric can export (with _total, _bucket, ...), whether
    # or not it has been observed yet in this process.
    exported = set(prometheus_client.REGISTRY._names_to_collectors)
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "bin-platform.json").read_text())
    expressions = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    rules = yaml.safe_load((DEPLOY / "prometheus" / "rules.yml").read_text())
    expressions += [r["expr"] for g in rules["groups"] for r in g["rules"]]
    used = set().union(*(_metric_names(e) for e in expressions))
    assert used, "no bin_ metric found in the dashboards and rules"
    assert used <= exported, f"not exported by any service: {sorted(used - exported)}"
