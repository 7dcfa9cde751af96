"""The kubernetes deploy target's manifests: rendered, validated against real schemas, written for GitOps.

Deployment, Service and HorizontalPodAutoscaler are validated with kubernetes-validate, which
ships the JSON schemas of every Kubernetes release it supports (1.25 to 1.37 in 1.37.0) and
reads them from its own package, so no test needs the network. Strict mode rejects unknown
fields, like kubectl's default server-side field validation. The ServiceMonitor is a custom
resource: it is validated against prometheus-operator's CRD schema, vendored in
``tests/schemas/`` (see ``update_servicemonitor_schema.py`` there for where it comes from).
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate.utils as kubernetes_validate
import pytest
import yaml
from referencing import Registry, Resource

from mlship import manifests
from mlship.errors import MlshipError
from mlship.manifests import InvalidNameError, ManifestError, Resources, render_manifests, write_manifests

SCHEMAS = Path(__file__).parent / "schemas"
SERVICE_MONITOR_SCHEMA = SCHEMAS / "servicemonitor-monitoring-v1.json"
KUBERNETES_VERSIONS = sorted({kubernetes_validate.major_minor(v) for v in kubernetes_validate.all_versions()},
                             key=lambda v: tuple(map(int, v.split("."))))
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

BENTO_VERSION = "fa4dd4f087993cce"
FINGERPRINT = "bdf2d2fcf34681b7b1ea6d3c820f53d0a83d3f5aa7bf740ac1751c95717955f8"
IMAGE = f"ghcr.io/acme/churn:{BENTO_VERSION}"


def render(**overrides: Any) -> str:
    arguments = {"name": "churn", "stage": "prod", "version": "1.2.0", "image": IMAGE,
                 "bento_tag": f"churn:{BENTO_VERSION}", "fingerprint": FINGERPRINT, **overrides}
    return render_manifests(**arguments)


def objects(text: str | None = None) -> dict[str, dict[str, Any]]:
    """The rendered objects by kind."""
    documents = list(yaml.safe_load_all(text if text is not None else render()))
    return {document["kind"]: document for document in documents}


def container(rendered: dict[str, dict[str, Any]]) -> dict[str, Any]:
    (only,) = rendered["Deployment"]["spec"]["template"]["spec"]["containers"]
    return only


def validate_kubernetes(document: dict[str, Any], version: str) -> None:
    kubernetes_validate.validate(document, version, strict=True)


def service_monitor_validator() -> jsonschema.protocols.Validator:
    """The CRD's schema, strict like kubectl (unknown fields are errors), with Kubernetes' own ObjectMeta."""
    schema = json.loads(SERVICE_MONITOR_SCHEMA.read_text(encoding="utf-8"))
    latest = KUBERNETES_VERSIONS[-1]
    definitions = kubernetes_validate.schema_contents(
        f"kubernetes-json-schema/v{latest}.0-local-strict/_definitions.json", latest)
    schema["properties"]["metadata"] = {"$ref": f"{definitions['$id']}#/$defs/{OBJECT_META}"}

    def strict(node: Any) -> None:
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node \
                    and not node.get("x-kubernetes-preserve-unknown-fields"):
                node["additionalProperties"] = False
            for value in node.values():
                strict(value)
        elif isinstance(node, list):
            for value in node:
                strict(value)

    strict(schema["properties"]["spec"])
    registry = Resource.from_contents(definitions) @ Registry()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, registry=registry)


# --- the documents ------------------------------------------------------------------------------


def test_the_yaml_round_trips_into_exactly_four_documents_of_the_expected_kinds():
    documents = list(yaml.safe_load_all(render()))

    assert [(d["apiVersion"], d["kind"]) for d in documents] == [
        ("apps/v1", "Deployment"), ("v1", "Service"), ("autoscaling/v2", "HorizontalPodAutoscaler"),
        ("monitoring.coreos.com/v1", "ServiceMonitor")]
    assert [d["kind"] for d in documents] == list(manifests.KINDS)
    assert {d["metadata"]["name"] for d in documents} == {"churn"}


def test_rendering_the_same_inputs_gives_the_same_text():
    assert render() == render()


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_kubernetes_objects_validate_against_the_schemas_of_each_kubernetes_release(version):
    rendered = objects(render(namespace="models", resources=Resources(cpu_limit=None)))
    for kind in ("Deployment", "Service", "HorizontalPodAutoscaler"):
        validate_kubernetes(rendered[kind], version)


def test_the_service_monitor_validates_against_the_prometheus_operator_crd_schema():
    validator = service_monitor_validator()
    for text in (render(), render(namespace="models", monitor_labels={"release": "kube-prometheus-stack"})):
        monitor = objects(text)["ServiceMonitor"]
        errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(monitor)]
        assert errors == []


def test_the_validators_refuse_what_a_cluster_would_refuse():
    """The validations above can fail: misspelt fields, wrong types and bad durations are caught."""
    rendered = objects()
    deployment = copy.deepcopy(rendered["Deployment"])
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {}
    service = copy.deepcopy(rendered["Service"])
    service["spec"]["ports"][0]["port"] = "80"
    for document in (deployment, service):
        with pytest.raises(kubernetes_validate.ValidationError):
            validate_kubernetes(document, KUBERNETES_VERSIONS[-1])
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):  # kubernetes-validate knows no custom resources
        validate_kubernetes(rendered["ServiceMonitor"], KUBERNETES_VERSIONS[-1])

    validator = service_monitor_validator()
    for path, value in ((("spec", "endpoints", 0, "interval"), "30 seconds"), (("spec", "endpoints", 0, "pth"), "/m"),
                        (("metadata", "labelz"), {}), (("spec", "selector", "matchLabels", "app"), 1)):
        monitor = copy.deepcopy(rendered["ServiceMonitor"])
        target = monitor
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        assert not validator.is_valid(monitor), path
    monitor = copy.deepcopy(rendered["ServiceMonitor"])
    del monitor["spec"]["selector"]
    assert not validator.is_valid(monitor)


# --- what the objects say -------------------------------------------------------------------------


def test_the_deployment_serves_port_3000_with_liveness_on_livez_and_readiness_on_readyz():
    served = container(objects())

    assert served["image"] == IMAGE
    assert served["ports"] == [{"name": "http", "containerPort": 3000, "protocol": "TCP"}]
    assert served["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    assert served["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert served["startupProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    startup = served["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 120  # time for a large model to load


def test_the_service_maps_port_80_to_the_container_port_named_http():
    rendered = objects()
    service = rendered["Service"]

    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]
    named = {port["name"]: port["containerPort"] for port in container(rendered)["ports"]}
    assert named[service["spec"]["ports"][0]["targetPort"]] == 3000
    pod_labels = rendered["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


def test_the_service_monitor_scrapes_metrics_on_the_http_port_of_the_service():
    rendered = objects(render(monitor_labels={"release": "kube-prometheus-stack"}))
    monitor, service = rendered["ServiceMonitor"], rendered["Service"]

    assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s"}]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert "release" not in service["metadata"]["labels"]


def test_the_autoscaler_scales_the_deployment_on_cpu_between_min_and_max_replicas():
    autoscaler = objects(render(replicas=3, max_replicas=8, target_cpu_utilization=60))["HorizontalPodAutoscaler"]

    assert autoscaler["spec"] == {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "churn"},
        "minReplicas": 3,
        "maxReplicas": 8,
        "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": 60}}}],
    }
    defaults = objects()["HorizontalPodAutoscaler"]["spec"]
    assert (defaults["minReplicas"], defaults["maxReplicas"]) == (2, 5)


def test_the_rollout_never_drops_below_the_desired_replicas_and_leaves_the_count_to_the_autoscaler():
    spec = objects()["Deployment"]["spec"]

    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}}
    assert "replicas" not in spec  # a count in git would be reset on every sync, fighting the autoscaler


def test_labels_and_annotations_carry_the_version_fingerprint_and_bento_tag():
    rendered = objects(render(version="v1.3.0"))
    pod = rendered["Deployment"]["spec"]["template"]["metadata"]

    for metadata in [document["metadata"] for document in rendered.values()] + [pod]:
        assert metadata["labels"]["app.kubernetes.io/name"] == "churn"
        assert metadata["labels"]["app.kubernetes.io/version"] == "v1.3.0"
        assert metadata["labels"]["app.kubernetes.io/managed-by"] == "mlship"
        assert metadata["annotations"] == {
            "mlship.dev/model": "churn",
            "mlship.dev/model-version": "v1.3.0",
            "mlship.dev/stage": "prod",
            "mlship.dev/fingerprint": FINGERPRINT,
            "mlship.dev/bento-tag": f"churn:{BENTO_VERSION}",
        }
    # The selector is immutable: it must not change with the version.
    selector = rendered["Deployment"]["spec"]["selector"]["matchLabels"]
    assert selector == {"app.kubernetes.io/name": "churn", "app.kubernetes.io/instance": "churn-prod"}


def test_a_version_that_yaml_would_read_as_a_number_stays_a_string():
    rendered = objects(render(version="1.10"))

    assert rendered["Deployment"]["metadata"]["labels"]["app.kubernetes.io/version"] == "1.10"
    validate_kubernetes(rendered["Deployment"], KUBERNETES_VERSIONS[-1])


def test_the_pod_runs_as_the_bento_user_on_a_read_only_root_filesystem_and_meets_the_restricted_profile():
    rendered = objects()
    pod = rendered["Deployment"]["spec"]["template"]["spec"]
    served = container(rendered)

    assert pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": 1034, "runAsGroup": 1034,
                                      "fsGroup": 1034, "seccompProfile": {"type": "RuntimeDefault"}}
    assert served["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                         "capabilities": {"drop": ["ALL"]}}
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False
    # The Pod Security Standards' restricted profile: nothing from the host, only ephemeral volume types.
    assert not {"hostNetwork", "hostPID", "hostIPC"} & pod.keys()
    assert all(set(volume) <= {"name", "emptyDir"} for volume in pod["volumes"])
    # BentoML writes its home and /tmp only: both are on the emptyDir.
    env = {variable["name"]: variable["value"] for variable in served["env"]}
    assert env == {"BENTOML_DO_NOT_TRACK": "true", "BENTOML_HOME": "/tmp/bentoml"}
    mounts = {mount["mountPath"]: mount["name"] for mount in served["volumeMounts"]}
    assert mounts == {"/tmp": "tmp"}
    assert env["BENTOML_HOME"].startswith("/tmp/")
    assert pod["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}]


def test_resources_have_defaults_and_can_be_overridden():
    assert container(objects())["resources"] == {"requests": {"cpu": "500m", "memory": "512Mi"},
                                                 "limits": {"cpu": "1", "memory": "1Gi"}}
    larger = Resources(cpu_request="2", memory_request="3Gi", cpu_limit=None, memory_limit="4Gi")

    assert container(objects(render(resources=larger)))["resources"] == {
        "requests": {"cpu": "2", "memory": "3Gi"}, "limits": {"memory": "4Gi"}}
    no_limits = Resources(cpu_limit=None, memory_limit=None)
    assert container(objects(render(resources=no_limits)))["resources"] == {
        "requests": {"cpu": "500m", "memory": "512Mi"}}
    validate_kubernetes(objects(render(resources=no_limits))["Deployment"], KUBERNETES_VERSIONS[-1])


def test_a_namespace_is_set_on_every_object_only_when_given():
    assert all("namespace" not in d["metadata"] for d in objects().values())
    assert {d["metadata"]["namespace"] for d in objects(render(namespace="models")).values()} == {"models"}


# --- what is refused -------------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "value", "suggestion"), [
    ("name", "Churn", "churn"),
    ("name", "churn_v2", "churn-v2"),
    ("name", "churn.v2", "churn-v2"),
    ("name", "churn-", "churn"),
    ("name", "x" * 64, "x" * 63),
    ("name", "", None),
    ("stage", "Prod", "prod"),
    ("stage", "../prod", "prod"),
    ("stage", "prod/eu", "prod-eu"),
    ("namespace", "ML_Models", "ml-models"),
])
def test_a_name_that_is_not_a_dns_1123_label_is_refused_with_a_suggestion(field, value, suggestion):
    with pytest.raises(InvalidNameError) as raised:
        render(**{field: value})

    assert isinstance(raised.value, MlshipError) and raised.value.exit_code == 2
    message = str(raised.value)
    assert repr(value) in message and "DNS-1123 label" in message
    if suggestion:
        assert f"e.g. to '{suggestion}'" in message


def test_a_model_name_starting_with_a_digit_is_refused_because_it_names_the_service():
    with pytest.raises(InvalidNameError, match=r"model name '2churn' cannot name a Kubernetes Service, whose name "
                                               r"must start with a letter\. Rename the model, e\.g\. to 'churn'"):
        render(name="2churn", bento_tag=f"2churn:{BENTO_VERSION}")


def test_a_model_and_stage_too_long_for_the_instance_label_are_refused():
    name = "m" * 40
    with pytest.raises(InvalidNameError, match=r"the label app\.kubernetes\.io/instance=m{40}-s{23} has 64 characters, "
                                               r"at most 63 are allowed"):
        render(name=name, stage="s" * 23, bento_tag=f"{name}:{BENTO_VERSION}")


@pytest.mark.parametrize("image", [
    "churn:fa4dd4f087993cce",
    "localhost:5000/churn:v1",
    "registry.example.com:443/team/ml/churn:1.2.0",
    "[::1]:5000/churn:v1",
    "ghcr.io/acme/churn@sha256:" + "a" * 64,
    "ghcr.io/acme/churn:latest@sha256:" + "a" * 64,
    "ghcr.io/acme/my_model--x:Tag_1.0-rc1",
])
def test_well_formed_pinned_image_references_are_accepted(image):
    assert container(objects(render(image=image)))["image"] == image


@pytest.mark.parametrize(("image", "error"), [
    ("ghcr.io/acme/churn", "neither a tag nor a digest"),
    ("ghcr.io/acme/churn:latest", "tagged ':latest'"),
    ("ghcr.io/Acme/churn:1", "not a valid image reference"),
    ("ghcr.io/acme/churn:has space", "not a valid image reference"),
    ("https://ghcr.io/acme/churn:1", "not a valid image reference"),
    ("ghcr.io/acme/churn:" + "t" * 129, "not a valid image reference"),
    ("ghcr.io/acme/churn@sha256:abc", "not a valid image reference"),
    ("", "not a valid image reference"),
    ("ghcr.io/acme/churn:1\n  hostNetwork: true", "not a valid image reference"),
])
def test_a_malformed_or_unpinned_image_reference_is_refused(image, error):
    with pytest.raises(ManifestError, match=error):
        render(image=image)


@pytest.mark.parametrize(("overrides", "error"), [
    ({"version": "1.2.0+build.5"}, r"model version '1\.2\.0\+build\.5' cannot be a Kubernetes label value"),
    ({"version": ""}, "cannot be a Kubernetes label value"),
    ({"bento_tag": "prices:abc"}, "is a bento of 'prices', not of the model 'churn'"),
    ({"bento_tag": "churn"}, "is not a BentoML tag <name>:<version>"),
    ({"fingerprint": FINGERPRINT[:12]}, "64 lowercase hex digits"),
    ({"replicas": 0}, "replicas must be a whole number of at least 1, not 0"),
    ({"replicas": True}, "replicas must be a whole number"),
    ({"replicas": 4, "max_replicas": 3}, r"max_replicas \(3\) is below replicas \(4\)"),
    ({"target_cpu_utilization": 150}, "at most 100"),
    ({"resources": Resources(memory_request="2Gi")}, r"the memory limit \(1Gi\) is below the memory request \(2Gi\)"),
    ({"resources": Resources(cpu_request="1500m")}, r"the cpu limit \(1\) is below the cpu request \(1500m\)"),
    ({"resources": Resources(memory_limit="1GB")}, "memory limit '1GB' is not a Kubernetes quantity"),
    ({"resources": Resources(cpu_request="0")}, "must be more than zero"),
    ({"scrape_interval": "30 seconds"}, "not a Prometheus duration"),
    ({"monitor_labels": {"Bad Key": "x"}}, "not a valid Kubernetes label key"),
    ({"monitor_labels": {"release": "a b"}}, "ServiceMonitor label release 'a b' cannot be a Kubernetes label value"),
])
def test_values_kubernetes_would_refuse_are_refused_with_what_to_change(overrides, error):
    with pytest.raises(ManifestError, match=error):
        render(**overrides)


def test_quantities_in_every_kubernetes_notation_are_compared_by_amount():
    equal = Resources(cpu_request="0.5", cpu_limit="500m", memory_request="1073741824", memory_limit="1Gi")
    exponent = Resources(cpu_request="5e-1", cpu_limit="1", memory_request="1e9", memory_limit="1G")

    for resources in (equal, exponent):
        validate_kubernetes(objects(render(resources=resources))["Deployment"], KUBERNETES_VERSIONS[-1])
    with pytest.raises(ManifestError, match=r"memory limit \(1G\) is below the memory request \(1Gi\)"):
        render(resources=Resources(memory_request="1Gi", memory_limit="1G"))


def test_image_reference_names_the_image_bentoml_containerize_builds_in_a_registry():
    assert manifests.image_reference("ghcr.io/acme/", f"churn:{BENTO_VERSION}") == IMAGE
    with pytest.raises(ManifestError, match="not a valid image reference"):
        manifests.image_reference("ghcr.io/Acme", f"churn:{BENTO_VERSION}")


# --- writing ------------------------------------------------------------------------------------


def test_manifests_are_written_to_deploy_stage_name_yaml(tmp_path):
    text = render()

    path = write_manifests(tmp_path, "prod", "churn", text)

    assert path == tmp_path / "deploy" / "prod" / "churn.yaml"
    assert path.read_text(encoding="utf-8") == text
    assert len(list(yaml.safe_load_all(path.read_text(encoding="utf-8")))) == 4


def test_writing_the_same_manifests_again_leaves_the_file_untouched(tmp_path):
    path = write_manifests(tmp_path, "prod", "churn", render())
    past = path.stat().st_mtime_ns - 10_000_000_000
    os.utime(path, ns=(past, past))
    before = path.stat()

    assert write_manifests(tmp_path, "prod", "churn", render()) == path

    after = path.stat()
    assert (after.st_mtime_ns, after.st_ino) == (before.st_mtime_ns, before.st_ino) == (past, before.st_ino)


def test_a_new_version_replaces_the_file_atomically(tmp_path, monkeypatch):
    path = write_manifests(tmp_path, "prod", "churn", render())
    before = path.stat()
    newer = render(version="1.3.0", image="ghcr.io/acme/churn:0123456789abcdef", bento_tag="churn:0123456789abcdef")

    write_manifests(tmp_path, "prod", "churn", newer)

    assert path.read_text(encoding="utf-8") == newer
    assert path.stat().st_ino != before.st_ino  # a new file renamed over the old one, not rewritten in place
    assert sorted(p.name for p in path.parent.iterdir()) == ["churn.yaml"]

    # A write that fails midway leaves the previous file whole, and no partial file behind.
    def fail(_descriptor: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="disk full"):
        write_manifests(tmp_path, "prod", "churn", render(version="1.4.0"))
    assert path.read_text(encoding="utf-8") == newer
    assert sorted(p.name for p in path.parent.iterdir()) == ["churn.yaml"]


@pytest.mark.parametrize(("stage", "name"), [("../..", "churn"), ("prod", "../churn"), ("prod", "Churn")])
def test_writing_refuses_names_that_are_not_kubernetes_names(tmp_path, stage, name):
    with pytest.raises(InvalidNameError):
        write_manifests(tmp_path, stage, name, render())
    assert not (tmp_path / "deploy").exists()


# --- a project's own template ------------------------------------------------------------------------


def test_a_project_template_override_is_used(tmp_path):
    packaged = (Path(manifests.__file__).parent / "templates" / manifests.TEMPLATE).read_text(encoding="utf-8")
    budget = ("---\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: {{ name | q }}\n"
              "spec:\n  minAvailable: 1\n  selector:\n    matchLabels:\n{{ selector | block(6) }}\n")
    override = tmp_path / ".mlship" / "templates" / manifests.TEMPLATE
    override.parent.mkdir(parents=True)
    override.write_text(packaged.replace("imagePullPolicy: IfNotPresent", "imagePullPolicy: Always") + budget,
                        encoding="utf-8")

    text = render(project_root=tmp_path)

    rendered = objects(text)
    assert list(rendered) == [*manifests.KINDS, "PodDisruptionBudget"]
    assert container(rendered)["imagePullPolicy"] == "Always"
    validate_kubernetes(rendered["PodDisruptionBudget"], KUBERNETES_VERSIONS[-1])
    assert container(objects(render(project_root=tmp_path / "elsewhere")))["imagePullPolicy"] == "IfNotPresent"


@pytest.mark.parametrize(("template", "error"), [
    ("kind: [unclosed\n", "does not render valid YAML"),
    ("# nothing\n", "renders no Kubernetes object"),
    ("apiVersion: v1\nkind: ConfigMap\n", "document 1 is not a Kubernetes object"),
])
def test_a_project_template_that_does_not_render_kubernetes_objects_is_refused(tmp_path, template, error):
    override = tmp_path / ".mlship" / "templates" / manifests.TEMPLATE
    override.parent.mkdir(parents=True)
    override.write_text(template, encoding="utf-8")

    with pytest.raises(ManifestError, match=error) as raised:
        render(project_root=tmp_path)
    assert "k8s.yaml.j2" in str(raised.value)
