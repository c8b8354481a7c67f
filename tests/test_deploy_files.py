"""The deployment files in deploy/ parse, hang together and call the real CLI correctly.

There is no Docker engine, systemd or Kubernetes cluster here, so these files are not
run; this checks what can be checked without them: YAML syntax and shape, that every
``rxgrid`` command line in a unit or manifest is accepted by ``rxgrid.cli``'s own
parser, and ``systemd-analyze verify`` on the units where it is installed.
"""

from __future__ import annotations

import configparser
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from rxgrid.cli import build_parser

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEPLOY = os.path.join(ROOT, "deploy")
UNITS = ("rxgrid-head.service", "rxgrid-worker.service")
SAMPLE_ENV = {"RXGRID_LISTEN": "0.0.0.0:50051", "RXGRID_LEASE_TIMEOUT": "10",
              "RXGRID_HEAD": "head.example.org:50051", "RXGRID_CORES": "0",
              "RXGRID_TLS_CA": "/etc/rxgrid/tls/ca.pem", "POD_NAME": "rxgrid-worker-abc",
              "H": "host1"}


def _parse_rxgrid(argv: list[str]):
    """Parse an ``rxgrid ...`` command line with the real parser (SystemExit if wrong)."""
    assert os.path.basename(argv[0]) == "rxgrid", argv
    return build_parser().parse_args(argv[1:])


def _expand(text: str, extra: dict | None = None) -> str:
    env = {**SAMPLE_ENV, **(extra or {})}
    text = text.replace("%H", env["H"])
    return re.sub(r"\$\{?(\w+)\}?", lambda m: env[m.group(1)], text)


def _unit(name: str) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    unit.read(os.path.join(DEPLOY, "systemd", name))
    return unit


# ---------------------------------------------------------------- systemd


@pytest.mark.parametrize("name", UNITS)
def test_systemd_unit_runs_a_dedicated_user_with_restarts_and_state_dir(name):
    service = _unit(name)["Service"]
    assert service["User"] == "rxgrid" and service["Group"] == "rxgrid"
    assert service["Restart"] in ("on-failure", "always")
    assert service["StateDirectory"] == "rxgrid"  # /var/lib/rxgrid
    env_file = service["EnvironmentFile"]
    assert env_file.startswith("/etc/rxgrid/")
    example = os.path.join(DEPLOY, "systemd", os.path.basename(env_file) + ".example")
    assert os.path.exists(example), f"no example for {env_file}"


def test_systemd_command_lines_are_accepted_by_the_cli():
    head = _parse_rxgrid(shlex.split(_expand(_unit(UNITS[0])["Service"]["ExecStart"])))
    assert head.command == "head" and head.state_dir == "/var/lib/rxgrid"
    assert head.listen == "0.0.0.0:50051" and head.tls_cert and head.tls_key
    # Tokens come from the EnvironmentFile (RXGRID_TOKEN / RXGRID_WORKER_TOKEN), never argv.
    assert not head.token_file and not head.insecure
    worker = _parse_rxgrid(shlex.split(_expand(_unit(UNITS[1])["Service"]["ExecStart"])))
    assert worker.command == "worker" and worker.head == "head.example.org:50051"
    assert worker.name == "host1" and worker.tls_ca
    head_env = open(os.path.join(DEPLOY, "systemd", "head.env.example")).read()
    worker_env = open(os.path.join(DEPLOY, "systemd", "worker.env.example")).read()
    assert "RXGRID_TOKEN=" in head_env and "RXGRID_WORKER_TOKEN=" in head_env
    assert "RXGRID_WORKER_TOKEN=" in worker_env and "RXGRID_TOKEN=" not in worker_env


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_analyze_verify_finds_nothing(tmp_path):
    # verify insists that ExecStart's program exists: point it at this machine's rxgrid.
    here = os.path.join(os.path.dirname(sys.executable), "rxgrid")
    program = here if os.access(here, os.X_OK) else shutil.which("rxgrid") or sys.executable
    for name in UNITS:
        text = open(os.path.join(DEPLOY, "systemd", name)).read()
        (tmp_path / name).write_text(text.replace("/opt/rxgrid/venv/bin/rxgrid", program))
    done = subprocess.run(["systemd-analyze", "verify", *(str(tmp_path / n) for n in UNITS)],
                          capture_output=True, text=True, timeout=60)
    # Unknown keys and bad values are only warnings (exit 0), so any line naming one of
    # our files is a failure.
    complaints = [line for line in (done.stdout + done.stderr).splitlines()
                  if any(n in line for n in UNITS)]
    assert done.returncode == 0 and not complaints, done.stdout + done.stderr


# ---------------------------------------------------------------- Docker


def test_dockerfile_installs_the_project_as_a_non_root_user():
    text = open(os.path.join(DEPLOY, "docker", "Dockerfile")).read()
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert lines[0] == "FROM python:3.11-slim"
    assert any(line.startswith("RUN pip install .") for line in lines)
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert 'ENTRYPOINT ["rxgrid"]' in lines
    for line in lines:  # everything it copies exists (the build context is the repo root)
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert os.path.exists(os.path.join(ROOT, source)), source


# ---------------------------------------------------------------- Kubernetes

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML is optional
    yaml = None
needs_yaml = pytest.mark.skipif(yaml is None, reason="PyYAML not installed")


def _manifests() -> dict:
    docs = {}
    for path in sorted(glob.glob(os.path.join(DEPLOY, "kubernetes", "*.yaml"))):
        with open(path) as f:
            for doc in yaml.safe_load_all(f):
                if doc:
                    docs[(doc["kind"], doc.get("metadata", {}).get("name"))] = doc
    return docs


def _script_command(container: dict) -> list[str]:
    """The ``exec rxgrid ...`` line of a container's ``sh -c`` script, with $tls filled in."""
    assert container["command"] == ["/bin/sh", "-c"]
    script = container["args"][0]
    tls = re.search(r'tls="(--[^"]+)"', script).group(1)
    line = next(x.strip() for x in script.splitlines() if x.strip().startswith("exec rxgrid "))
    return shlex.split(_expand(line[len("exec "):], {"tls": tls}))


@needs_yaml
def test_kubernetes_manifests_parse_and_have_the_expected_objects():
    docs = _manifests()
    kinds = {kind for kind, _ in docs}
    assert {"StatefulSet", "Service", "Deployment", "Secret", "Kustomization"} <= kinds
    kustomization = docs[("Kustomization", None)]
    for resource in kustomization["resources"]:
        assert os.path.exists(os.path.join(DEPLOY, "kubernetes", resource)), resource


@needs_yaml
def test_head_statefulset_keeps_state_on_a_claim_behind_a_service():
    docs = _manifests()
    head = docs[("StatefulSet", "rxgrid-head")]["spec"]
    assert head["replicas"] == 1
    assert docs[("Service", head["serviceName"])]["spec"]["clusterIP"] == "None"
    claim = head["volumeClaimTemplates"][0]
    container = head["template"]["spec"]["containers"][0]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    args = _parse_rxgrid(_script_command(container))
    assert args.command == "head" and args.state_dir.startswith(mounts[claim["metadata"]["name"]])
    assert args.token_file.startswith(mounts["tokens"]) and args.worker_token_file
    assert args.tls_cert.startswith(mounts["tls"])
    service = docs[("Service", "rxgrid-head")]["spec"]
    labels = head["template"]["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in service["selector"].items())
    assert service["ports"][0]["port"] == int(args.listen.rsplit(":", 1)[1])
    volumes = {v["name"]: v for v in head["template"]["spec"]["volumes"]}
    assert volumes["tls"]["secret"]["optional"] is True


@needs_yaml
def test_workers_are_a_deployment_that_sees_only_the_worker_token():
    docs = _manifests()
    workers = docs[("Deployment", "rxgrid-worker")]["spec"]
    assert workers["replicas"] >= 1
    pod = workers["template"]["spec"]
    container = pod["containers"][0]
    args = _parse_rxgrid(_script_command(container))
    assert args.command == "worker" and args.head.split(":")[0] == "rxgrid-head"
    assert ("Service", "rxgrid-head") in docs
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert [i["key"] for i in volumes["tokens"]["secret"]["items"]] == ["worker-token"]
    assert [i["key"] for i in volumes["tls"]["secret"]["items"]] == ["ca.pem"]
    assert args.token_file.endswith("/worker-token")
    secrets = {name for kind, name in docs if kind == "Secret"}
    for volume in (*pod["volumes"], *docs[("StatefulSet", "rxgrid-head")]["spec"]["template"]
                   ["spec"]["volumes"]):
        if "secret" in volume:
            assert volume["secret"]["secretName"] in secrets
    for spec in (pod, docs[("StatefulSet", "rxgrid-head")]["spec"]["template"]["spec"]):
        assert spec["securityContext"]["runAsNonRoot"] is True
