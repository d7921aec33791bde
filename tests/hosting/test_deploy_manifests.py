"""deploy/compose.yaml and deploy/kubernetes/ (kustomize) run what `make run` runs, route work by
hardware SKU consistently, and are valid: every rendered Kubernetes object against the Kubernetes
schemas (kubernetes-validate, strict), KEDA's objects against a schema of the fields Hearth uses,
and the compose file against a schema of the compose keys it uses (and `docker compose config`
where the compose plugin is installed).

CI needs kubectl (`kubectl kustomize` renders offline); its image has it at /usr/bin/kubectl.
"""

import copy
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml
from django.test import override_settings

from hosting import processes
from hosting.env import HearthEnv, comma_list

DEPLOY = processes.REPO_ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
COMPOSE_ENV = DEPLOY / "hearth.env.example"
KUSTOMIZATION = DEPLOY / "kubernetes"
# The oldest and the newest Kubernetes the manifests are checked against.
KUBERNETES_VERSIONS = ["1.29", "1.37"]
KEDA_KINDS = {"ScaledObject", "TriggerAuthentication"}
SECRET_NAME = "hearth-secrets"
# What must come from the Secret, never from a manifest's literal value.
SECRET_VARIABLES = {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "METRICS_TOKEN", "AWS_SECRET_ACCESS_KEY"}
WORKER_SKUS = {"cpu", "gpu-t4"}


def _queues(argv: list[str]) -> list[str]:
    return comma_list(argv[argv.index("-Q") + 1])


def _skus(argv: list[str]) -> set[str]:
    """The hardware SKUs a worker's -Q names (`default` is the housekeeping queue, not an SKU)."""
    return set(_queues(argv)) - {"default"}


def _worker_argv(queues: str) -> list[str]:
    return processes.worker_args(queues=queues, loglevel="info")


WEB_ARGV = processes.daphne_args(host="0.0.0.0", port=8000)
BEAT_ARGV = processes.beat_args(schedule=Path("/data/celerybeat-schedule"))


# --- Kubernetes ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail(
            "kubectl is not installed: it renders deploy/kubernetes (`kubectl kustomize`, offline). "
            "CI needs it (its image has /usr/bin/kubectl); install kubectl to run these tests."
        )
    result = subprocess.run(
        [kubectl, "kustomize", str(KUSTOMIZATION)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def _objects(rendered: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {obj["metadata"]["name"]: obj for obj in rendered if obj["kind"] == kind}


def _pod(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]


def _container(obj: dict[str, Any]) -> dict[str, Any]:
    (container,) = _pod(obj)["containers"]
    return container


def _argv(container: dict[str, Any]) -> list[str]:
    return [*container.get("command", []), *container.get("args", [])]


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in container.get("env", []) if "value" in item}


def _workers(rendered: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        name: obj
        for name, obj in _objects(rendered, "Deployment").items()
        if obj["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component") == "worker"
    }


def _config(rendered: list[dict[str, Any]]) -> dict[str, str]:
    (config,) = _objects(rendered, "ConfigMap").values()
    return config["data"]


# KEDA's CRDs are not among kubernetes-validate's schemas. This is the part of keda.sh/v1alpha1
# that Hearth uses, closed (additionalProperties: false), so a misspelt or misplaced field fails
# here as it would be refused (or silently ignored) by the CRD.
_NAME_REF = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
_METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string"}, "namespace": {"type": "string"}, "labels": {"type": "object"}},
}
KEDA_SCHEMAS: dict[str, dict[str, Any]] = {
    "ScaledObject": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": "keda.sh/v1alpha1"},
            "kind": {"const": "ScaledObject"},
            "metadata": _METADATA,
            "spec": {
                "type": "object",
                "required": ["scaleTargetRef", "triggers"],
                "additionalProperties": False,
                "properties": {
                    "scaleTargetRef": {**_NAME_REF, "additionalProperties": False},
                    "minReplicaCount": {"type": "integer", "minimum": 0},
                    "maxReplicaCount": {"type": "integer", "minimum": 1},
                    "pollingInterval": {"type": "integer", "minimum": 1},
                    "cooldownPeriod": {"type": "integer", "minimum": 0},
                    "triggers": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["type", "metadata"],
                            "additionalProperties": False,
                            "properties": {
                                "type": {"const": "metrics-api"},
                                "metricType": {"enum": ["AverageValue", "Value"]},
                                "metadata": {
                                    "type": "object",
                                    "required": ["url", "valueLocation", "targetValue"],
                                    "additionalProperties": False,
                                    # KEDA reads trigger metadata as strings only.
                                    "properties": {
                                        "url": {"type": "string", "pattern": "^https?://"},
                                        "valueLocation": {"type": "string"},
                                        "targetValue": {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"},
                                        "authMode": {"const": "bearer"},
                                    },
                                },
                                "authenticationRef": {**_NAME_REF, "additionalProperties": False},
                            },
                        },
                    },
                },
            },
        },
    },
    "TriggerAuthentication": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": "keda.sh/v1alpha1"},
            "kind": {"const": "TriggerAuthentication"},
            "metadata": _METADATA,
            "spec": {
                "type": "object",
                "required": ["secretTargetRef"],
                "additionalProperties": False,
                "properties": {
                    "secretTargetRef": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["parameter", "name", "key"],
                            "additionalProperties": False,
                            "properties": {
                                "parameter": {"type": "string"},
                                "name": {"type": "string"},
                                "key": {"type": "string"},
                            },
                        },
                    }
                },
            },
        },
    },
}


def _validate(obj: dict[str, Any], version: str) -> None:
    if obj["kind"] in KEDA_KINDS:
        jsonschema.validate(obj, KEDA_SCHEMAS[obj["kind"]])
    else:
        # Strict: unknown fields are errors; a kind with no schema raises SchemaNotFoundError.
        kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_rendered_object_is_valid(rendered, version):
    kinds = {obj["kind"] for obj in rendered}
    assert {"Deployment", "Service", "Job", "ConfigMap", "PersistentVolumeClaim"} | KEDA_KINDS <= kinds
    for obj in rendered:
        _validate(obj, version)


def test_the_validation_refuses_a_misspelt_field(rendered):
    """The checks above have teeth: a typo the API server would refuse fails them."""
    deployment = copy.deepcopy(_objects(rendered, "Deployment")["hearth-web"])
    deployment["spec"]["replica"] = deployment["spec"].pop("replicas")
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate(deployment, KUBERNETES_VERSIONS[-1])
    scaled = copy.deepcopy(next(iter(_objects(rendered, "ScaledObject").values())))
    scaled["spec"]["triggers"][0]["metadata"]["valuelocation"] = scaled["spec"]["triggers"][0]["metadata"].pop(
        "valueLocation"
    )
    with pytest.raises(jsonschema.ValidationError):
        _validate(scaled, KUBERNETES_VERSIONS[-1])


def test_kubernetes_runs_what_make_run_runs(rendered):
    deployments = _objects(rendered, "Deployment")
    assert _argv(_container(deployments["hearth-web"])) == ["python", *WEB_ARGV]
    assert _argv(_container(deployments["hearth-beat"])) == ["python", *BEAT_ARGV]
    for name, worker in _workers(rendered).items():
        argv = _argv(_container(worker))
        assert argv == ["python", *_worker_argv(",".join(_queues(argv)))], name
    (job,) = _objects(rendered, "Job").values()
    assert _argv(_container(job)) == ["python", "manage.py", "migrate", "--no-input"]


def test_each_worker_serves_and_scales_on_the_skus_it_consumes(rendered):
    workers = _workers(rendered)
    scaled = {obj["spec"]["scaleTargetRef"]["name"]: obj for obj in _objects(rendered, "ScaledObject").values()}
    assert set(scaled) == set(workers)  # every worker pool is scaled, and nothing else
    served = set()
    for name, worker in workers.items():
        container = _container(worker)
        skus = _skus(_argv(container))
        assert comma_list(_env(container)["WORKER_HARDWARE"]) == sorted(skus), name
        (sku,) = skus  # one SKU per pool: KEDA scales it on that SKU's figure
        (trigger,) = scaled[name]["spec"]["triggers"]
        assert trigger["metadata"]["valueLocation"] == f"hardware.{sku}.desired_instances", name
        assert worker["spec"]["template"]["metadata"]["labels"]["hearth.dev/hardware"] == sku
        # KEDA owns the count: a `replicas` here would reset it at every `kubectl apply`.
        assert "replicas" not in worker["spec"], name
        served.add(sku)
    assert served == WORKER_SKUS


def test_exactly_one_worker_pool_consumes_default_and_never_scales_to_zero(rendered):
    scaled = {obj["spec"]["scaleTargetRef"]["name"]: obj for obj in _objects(rendered, "ScaledObject").values()}
    consumers = [name for name, worker in _workers(rendered).items() if "default" in _queues(_argv(_container(worker)))]
    assert consumers == ["hearth-worker-cpu"]
    assert scaled["hearth-worker-cpu"]["spec"]["minReplicaCount"] >= 1
    assert scaled["hearth-worker-gpu-t4"]["spec"]["minReplicaCount"] == 0  # GPUs: zero when idle


def test_beat_runs_once(rendered):
    beat = _objects(rendered, "Deployment")["hearth-beat"]
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}


def test_the_gpu_worker_requests_a_gpu_and_only_it(rendered):
    workers = _workers(rendered)
    gpu = _pod(workers["hearth-worker-gpu-t4"])
    assert int(gpu["containers"][0]["resources"]["limits"]["nvidia.com/gpu"]) == 1
    assert gpu["nodeSelector"]  # onto the GPU nodes, through their taint
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in gpu["tolerations"]
    cpu = _container(workers["hearth-worker-cpu"])["resources"]
    assert "nvidia.com/gpu" not in {**cpu.get("limits", {}), **cpu.get("requests", {})}


def test_workers_have_time_to_finish_a_prediction(rendered):
    limit = int(_config(rendered)["PREDICTION_MAX_RUN_TIME"])
    for name, worker in _workers(rendered).items():
        assert _pod(worker)["terminationGracePeriodSeconds"] > limit, name


def test_secrets_come_from_the_secret_only(rendered):
    assert not _objects(rendered, "Secret")  # created by the operator, never shipped with values
    assert not SECRET_VARIABLES & set(_config(rendered))
    for obj in [*_objects(rendered, "Deployment").values(), *_objects(rendered, "Job").values()]:
        pod = _pod(obj)
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            refs = [ref["secretRef"]["name"] for ref in container["envFrom"] if "secretRef" in ref]
            assert refs == [SECRET_NAME], (obj["metadata"]["name"], container["name"])
            assert not SECRET_VARIABLES & {item["name"] for item in container.get("env", [])}
    (auth,) = _objects(rendered, "TriggerAuthentication").values()
    assert auth["spec"]["secretTargetRef"] == [{"parameter": "token", "name": SECRET_NAME, "key": "METRICS_TOKEN"}]
    for scaled in _objects(rendered, "ScaledObject").values():
        (trigger,) = scaled["spec"]["triggers"]
        assert trigger["metadata"]["authMode"] == "bearer"
        assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]


def test_the_config_map_parses_as_hearths_settings(rendered):
    config = _config(rendered)
    assert set(config) <= set(HearthEnv.model_fields)
    secrets = {"SECRET_KEY": "x" * 50, "DATABASE_URL": "postgres://h:p@db/h", "REDIS_URL": "redis://redis:6379/0"}
    HearthEnv(**config, **secrets)  # type: ignore[arg-type]  # strings, parsed as the environment's are


def test_keda_and_the_probes_reach_the_web_service_with_an_allowed_host(rendered):
    """Django answers 400 to a Host header ALLOWED_HOSTS does not list: the kubelet's probes and
    KEDA's requests must send one it does."""
    allowed = comma_list(_config(rendered)["ALLOWED_HOSTS"])
    service = _objects(rendered, "Service")["hearth-web"]
    web = _objects(rendered, "Deployment")["hearth-web"]
    assert service["spec"]["selector"].items() <= web["spec"]["template"]["metadata"]["labels"].items()
    (port,) = service["spec"]["ports"]
    namespace = service["metadata"]["namespace"]
    for scaled in _objects(rendered, "ScaledObject").values():
        (trigger,) = scaled["spec"]["triggers"]
        url = urlsplit(trigger["metadata"]["url"])
        assert url.hostname in {"hearth-web", f"hearth-web.{namespace}.svc.cluster.local"}
        assert url.hostname in allowed and url.port == port["port"] and url.path == "/metrics/scaling"
    container = _container(web)
    for probe in ("readinessProbe", "livenessProbe"):
        http = container[probe]["httpGet"]
        assert http["port"] == port["targetPort"] == container["ports"][0]["name"]
        assert {item["name"]: item["value"] for item in http["httpHeaders"]}["Host"] in allowed


def test_the_probe_path_answers_without_a_token_or_the_database(rendered, client, db, django_assert_num_queries):
    web = _container(_objects(rendered, "Deployment")["hearth-web"])
    http = web["readinessProbe"]["httpGet"]
    host = {item["name"]: item["value"] for item in http["httpHeaders"]}["Host"]
    assert web["livenessProbe"]["httpGet"]["path"] == http["path"]
    # No queries: a database outage must not get the web pods restarted by their liveness probe.
    allowed = comma_list(_config(rendered)["ALLOWED_HOSTS"])
    with override_settings(ALLOWED_HOSTS=allowed), django_assert_num_queries(0):
        response = client.get(http["path"], HTTP_HOST=host)
    assert response.status_code == 200


def _gjson(document: Any, path: str) -> Any:
    """KEDA's valueLocation is a GJSON path; the ones here are plain dotted keys."""
    assert not re.search(r"[*?#|@!\\]", path), f"{path} uses GJSON syntax this check does not follow"
    for key in path.split("."):
        document = document[key]
    return document


def test_keda_finds_its_number_in_the_scaling_endpoint(rendered, client, db):
    with override_settings(METRICS_TOKEN="t0ken"):
        response = client.get("/metrics/scaling", HTTP_AUTHORIZATION="Bearer t0ken", REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 200
    for scaled in _objects(rendered, "ScaledObject").values():
        (trigger,) = scaled["spec"]["triggers"]
        value = _gjson(response.json(), trigger["metadata"]["valueLocation"])
        assert isinstance(value, int) and not isinstance(value, bool), trigger["metadata"]["valueLocation"]


def test_the_systemd_worker_serves_the_skus_it_consumes():
    """deploy/systemd/hearth-worker.service: WORKER_HARDWARE matches its -Q too."""
    unit = (DEPLOY / "systemd" / "hearth-worker.service").read_text()
    (exec_start,) = re.findall(r"^ExecStart=(.*)$", unit, flags=re.MULTILINE)
    environment = dict(
        item.split("=", 1)
        for line in re.findall(r"^Environment=(.*)$", unit, flags=re.MULTILINE)
        for item in shlex.split(line)
    )
    assert comma_list(environment["WORKER_HARDWARE"]) == sorted(_skus(shlex.split(exec_start)))


# --- docker compose -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


# The compose keys deploy/compose.yaml uses, each with the shape the Compose Specification gives
# it, closed: a misspelt key ("restrat", "healthckeck") fails here rather than being ignored.
_STRINGS = {"type": "array", "items": {"type": "string"}}
_COMMAND = {"oneOf": [{"type": "string"}, _STRINGS]}
_DURATION = {"type": "string", "pattern": r"^([0-9]+(\.[0-9]+)?(us|ms|s|m|h))+$"}
COMPOSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["services"],
    "additionalProperties": False,
    "patternProperties": {"^x-": {}},
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]*$"},
        "volumes": {"type": "object", "additionalProperties": {"type": ["object", "null"]}},
        "services": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "anyOf": [{"required": ["image"]}, {"required": ["build"]}],
                "properties": {
                    "image": {"type": "string"},
                    "build": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {"context": {"type": "string"}, "dockerfile": {"type": "string"}},
                    },
                    "command": _COMMAND,
                    "environment": {
                        "type": "object",
                        "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
                    },
                    "env_file": {"oneOf": [{"type": "string"}, _STRINGS]},
                    "volumes": _STRINGS,
                    "ports": _STRINGS,
                    "profiles": _STRINGS,
                    "restart": {"enum": ["no", "always", "on-failure", "unless-stopped"]},
                    "stop_grace_period": _DURATION,
                    "depends_on": {
                        "type": "object",
                        "additionalProperties": {
                            "type": "object",
                            "required": ["condition"],
                            "additionalProperties": False,
                            "properties": {
                                "condition": {
                                    "enum": ["service_started", "service_healthy", "service_completed_successfully"]
                                }
                            },
                        },
                    },
                    "healthcheck": {
                        "type": "object",
                        "required": ["test"],
                        "additionalProperties": False,
                        "properties": {
                            "test": _COMMAND,
                            "interval": _DURATION,
                            "timeout": _DURATION,
                            "retries": {"type": "integer", "minimum": 1},
                            "start_period": _DURATION,
                        },
                    },
                    "deploy": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "resources": {
                                "type": "object",
                                "additionalProperties": False,
                                "properties": {
                                    "reservations": {
                                        "type": "object",
                                        "additionalProperties": False,
                                        "properties": {
                                            "devices": {
                                                "type": "array",
                                                "items": {
                                                    "type": "object",
                                                    "required": ["capabilities"],
                                                    "additionalProperties": False,
                                                    "properties": {
                                                        "driver": {"type": "string"},
                                                        "count": {"oneOf": [{"type": "integer"}, {"const": "all"}]},
                                                        "capabilities": _STRINGS,
                                                    },
                                                },
                                            }
                                        },
                                    }
                                },
                            }
                        },
                    },
                },
            },
        },
    },
}


def _compose_workers(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: service for name, service in compose["services"].items() if name.startswith("worker-")}


def test_the_compose_file_has_composes_structure(compose):
    jsonschema.validate(compose, COMPOSE_SCHEMA)
    broken = copy.deepcopy(compose)
    broken["services"]["web"]["restrat"] = broken["services"]["web"].pop("restart")
    with pytest.raises(jsonschema.ValidationError):  # the check has teeth
        jsonschema.validate(broken, COMPOSE_SCHEMA)


def _compose_plugin() -> str | None:
    docker = shutil.which("docker")
    if docker is None:
        return None
    version = subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30, check=False)
    return docker if version.returncode == 0 else None


def test_docker_compose_accepts_the_file():
    docker = _compose_plugin()
    if docker is None:
        # Not a failure hidden: the structure test above stands in where the plugin is absent
        # (the CI image has the docker CLI without its compose plugin).
        pytest.skip("the docker compose plugin is not installed; test_the_compose_file_has_composes_structure checks")
    env = {**os.environ, "HEARTH_ENV_FILE": COMPOSE_ENV.name}
    result = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), "--profile", "gpu", "config", "-q"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_compose_runs_what_make_run_runs(compose):
    services = compose["services"]
    assert services["web"]["command"] == ["python", *WEB_ARGV]
    assert services["beat"]["command"] == ["python", *BEAT_ARGV]
    for name, worker in _compose_workers(compose).items():
        argv = worker["command"]
        assert argv == ["python", *_worker_argv(",".join(_queues(argv)))], name
    assert "manage.py migrate --no-input" in " ".join(services["migrate"]["command"])


def test_each_compose_worker_serves_the_skus_it_consumes(compose):
    workers = _compose_workers(compose)
    served = set()
    for name, worker in workers.items():
        skus = _skus(worker["command"])
        assert comma_list(worker["environment"]["WORKER_HARDWARE"]) == sorted(skus), name
        assert name == f"worker-{'-'.join(sorted(skus))}"
        served |= skus
    assert served == WORKER_SKUS
    assert [name for name, worker in workers.items() if "default" in _queues(worker["command"])] == ["worker-cpu"]
    assert "profiles" not in workers["worker-cpu"]  # `default` must always be consumed


def test_the_compose_gpu_worker_reserves_an_nvidia_gpu(compose):
    (device,) = compose["services"]["worker-gpu-t4"]["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"] and device["count"] == 1
    assert "deploy" not in compose["services"]["worker-cpu"]


def test_compose_services_restart_and_report_their_health(compose):
    services = compose["services"]
    for name, service in services.items():
        expected = {"no"} if name == "migrate" else {"always", "unless-stopped"}
        assert service["restart"] in expected, name
    # Beat answers nothing to check; everything else says whether it works.
    assert {name for name, service in services.items() if "healthcheck" not in service} == {"migrate", "beat"}
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services, (name, dependency)
            wanted = "service_completed_successfully" if dependency == "migrate" else "service_healthy"
            assert condition == {"condition": wanted}, (name, dependency)
    for name in ["web", "beat", *_compose_workers(compose)]:
        assert "migrate" in services[name]["depends_on"], name


def test_every_hearth_service_shares_data_dir_and_the_env_file(compose):
    for name, service in compose["services"].items():
        if name in {"postgres", "redis"}:
            continue
        assert service["environment"]["DATA_DIR"] == "/data", name
        assert "hearth-data:/data" in service["volumes"], name
        assert service["env_file"] == "${HEARTH_ENV_FILE:-hearth.env}", name
        assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}, name


def _env_values(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_the_compose_env_file_sets_hearths_settings_for_the_compose_services():
    text = COMPOSE_ENV.read_text()
    assigned = set(re.findall(r"^#?([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))
    others = {"POSTGRES_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}  # postgres's and boto3's
    assert assigned - others <= set(HearthEnv.model_fields)
    values = _env_values(text)
    # Per service in compose.yaml, so not here.
    assert not {"DATA_DIR", "WORKER_HARDWARE"} & set(values)
    database = urlsplit(values["DATABASE_URL"])
    assert (database.hostname, database.username, database.path) == ("postgres", "hearth", "/hearth")
    assert database.password == values["POSTGRES_PASSWORD"]
    assert urlsplit(values["REDIS_URL"]).hostname == "redis"
    HearthEnv(**{k: v for k, v in values.items() if k not in others})  # type: ignore[arg-type]


def _healthcheck_script(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    return test[3]


def _run_python(script: str, env: dict[str, str]) -> int:
    return subprocess.run(
        [sys.executable, "-c", script], env={**os.environ, **env}, capture_output=True, timeout=60, check=False
    ).returncode


@pytest.fixture
def http_server() -> Iterator[tuple[int, list[int]]]:
    """A server on a free port answering each request with the next status in its list."""
    statuses: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(statuses.pop(0))
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], statuses
    server.shutdown()
    server.server_close()


def test_the_web_healthcheck_passes_below_500(compose, http_server):
    port, statuses = http_server
    script = _healthcheck_script(compose["services"]["web"]).replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    statuses.extend([200, 400, 500])
    assert [_run_python(script, {}) for _ in range(3)] == [0, 0, 1]
    server_gone = _healthcheck_script(compose["services"]["web"]).replace("8000", str(processes.free_port()))
    assert _run_python(server_gone, {}) != 0


def test_the_worker_healthcheck_follows_the_workers_report(compose, settings):
    """Healthy while a worker of this host reports to Redis, under the name InstanceKeeper gives it.
    The script runs as on a host of its own, so that workers other tests run here do not count."""
    from hosting.redis_clients import sync_client
    from inference.deployments import instances
    from inference.worker.instances import InstanceKeeper

    script = _healthcheck_script(compose["services"]["worker-cpu"])
    assert _healthcheck_script(compose["services"]["worker-gpu-t4"]) == script
    assert InstanceKeeper(None, None).worker == f"{socket.gethostname()}:{os.getpid()}"  # type: ignore[arg-type]
    host = f"hearth-test-{uuid.uuid4().hex}"
    as_that_host = f"import socket\nsocket.gethostname = lambda: {host!r}\n{script}"
    env = {"REDIS_URL": settings.REDIS_URL}
    worker = f"{host}:1"
    try:
        assert _run_python(as_that_host, env) == 1
        instances.report(worker=worker, hardware=["cpu"], runners={})
        assert _run_python(as_that_host, env) == 0
    finally:
        sync_client().delete(f"hearth:worker:{worker}")
