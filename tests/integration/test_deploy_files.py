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

import kubernetes_validate
import pytest
import yaml

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
    for mounted in ("prometheus", "grafana"):
        for volume in services[mounted]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (DEPLOY / source).exists(), source


def _manifests(folder: Path) -> list[dict[str, Any]]:
    documents = []
    for path in sorted(folder.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        documents += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return documents


BASE = _manifests(KUBERNETES / "base")


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
