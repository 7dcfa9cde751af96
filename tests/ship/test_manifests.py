"""The kubernetes deploy target's manifests: rendered, validated against real schemas, written for GitOps.

Deployment, Service, HorizontalPodAutoscaler and the dashboard's ConfigMap are validated with
kubernetes-validate, which ships the JSON schemas of every Kubernetes release it supports (1.25 to
1.37 in 1.37.0) and reads them from its own package, so no test needs the network. Strict mode
rejects unknown fields, like kubectl's default server-side field validation. The ServiceMonitor
and the PrometheusRule are custom resources: they are validated against prometheus-operator's CRD
schemas, vendored in ``tests/ship/schemas/`` (``update_prometheus_operator_schemas.py`` there says where
they come from). Every PromQL expression is parsed by promql-parser (the Rust parser of GreptimeDB,
which follows Prometheus's grammar), and the Grafana dashboard is validated against the dashboard
model of Grafana 11.0 and of 13.2 (``update_grafana_dashboard_schemas.py``). That the expressions
name series the served model really exposes is checked in ``test_service_monitoring.py``.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate.utils as kubernetes_validate
import promql_parser
import pytest
import yaml
from referencing import Registry, Resource

from mlship.errors import MlshipError
from mlship.ship import manifests
from mlship.ship.manifests import (Alerting, InvalidNameError, ManifestError, Resources, render_manifests,
                              write_manifests)
from mlship.templating import PACKAGE_TEMPLATES

SCHEMAS = Path(__file__).parent / "schemas"
SERVICE_MONITOR_SCHEMA = SCHEMAS / "servicemonitor-monitoring-v1.json"
PROMETHEUS_RULE_SCHEMA = SCHEMAS / "prometheusrule-monitoring-v1.json"
GRAFANA_SCHEMAS = sorted(SCHEMAS.glob("grafana-dashboard-*.json"))
#: What Grafana substitutes for its own variables before a query reaches Prometheus.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "30s"}
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


def crd_validator(path: Path = SERVICE_MONITOR_SCHEMA) -> jsonschema.protocols.Validator:
    """A CRD's schema, strict like kubectl (unknown fields are errors), with Kubernetes' own ObjectMeta."""
    schema = json.loads(path.read_text(encoding="utf-8"))
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


def alert_rules(text: str | None = None) -> list[dict[str, Any]]:
    (group,) = objects(text)["PrometheusRule"]["spec"]["groups"]
    return group["rules"]


def dashboard(text: str | None = None) -> dict[str, Any]:
    """The Grafana dashboard in the rendered ConfigMap."""
    (content,) = objects(text)["ConfigMap"]["data"].values()
    return json.loads(content)


def queries(board: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in board["panels"] for target in panel["targets"]]


def promql(expression: str) -> promql_parser.Expr:
    """The expression parsed as Prometheus would receive it (Grafana's own variables substituted)."""
    for variable, value in GRAFANA_VARIABLES.items():
        expression = expression.replace(variable, value)
    return promql_parser.parse(expression)


def selectors(expression: str) -> list[promql_parser.VectorSelector]:
    found = []
    promql_parser.walk(promql(expression), lambda node: found.append(node)
                       if isinstance(node, promql_parser.VectorSelector) else None)
    return found


def equal_matchers(selector: promql_parser.VectorSelector) -> dict[str, str]:
    return {m.name: m.value for m in selector.matchers.matchers if m.op == promql_parser.MatchOp.Equal}


def grafana_validator(path: Path) -> jsonschema.protocols.Validator:
    schema = json.loads(path.read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)
    validator.check_schema(schema)
    return validator(schema)


# --- the documents ------------------------------------------------------------------------------


def test_the_yaml_round_trips_into_exactly_six_documents_of_the_expected_kinds():
    documents = list(yaml.safe_load_all(render()))

    assert [(d["apiVersion"], d["kind"]) for d in documents] == [
        ("apps/v1", "Deployment"), ("v1", "Service"), ("autoscaling/v2", "HorizontalPodAutoscaler"),
        ("monitoring.coreos.com/v1", "ServiceMonitor"), ("monitoring.coreos.com/v1", "PrometheusRule"),
        ("v1", "ConfigMap")]
    assert [d["kind"] for d in documents] == list(manifests.KINDS)
    assert {d["metadata"]["name"] for d in documents} == {"churn", "churn-dashboard"}


def test_rendering_the_same_inputs_gives_the_same_text():
    assert render() == render()


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_kubernetes_objects_validate_against_the_schemas_of_each_kubernetes_release(version):
    rendered = objects(render(namespace="models", resources=Resources(cpu_limit=None)))
    for kind in ("Deployment", "Service", "HorizontalPodAutoscaler", "ConfigMap"):
        validate_kubernetes(rendered[kind], version)


def test_the_service_monitor_validates_against_the_prometheus_operator_crd_schema():
    validator = crd_validator()
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

    validator = crd_validator()
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

    assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s", "relabelings": [
        {"action": "replace", "targetLabel": "mlship_model", "replacement": "churn"},
        {"action": "replace", "targetLabel": "mlship_stage", "replacement": "prod"},
        {"action": "replace", "targetLabel": "mlship_version", "replacement": "1.2.0"}]}]
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
    assert env == {"BENTOML_DO_NOT_TRACK": "true", "BENTOML_HOME": "/tmp/bentoml", "MLSHIP_RELEASE": "1.2.0"}
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


# --- alerts and dashboard ---------------------------------------------------------------------------


def test_the_prometheus_rule_validates_against_the_prometheus_operator_crd_schema():
    validator = crd_validator(PROMETHEUS_RULE_SCHEMA)
    for text in (render(), render(namespace="models", monitor_labels={"release": "kube-prometheus-stack"},
                                  alerting=Alerting(no_predictions_for=None))):
        rule = objects(text)["PrometheusRule"]
        errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(rule)]
        assert errors == []
    labelled = objects(render(monitor_labels={"release": "kube-prometheus-stack"}))["PrometheusRule"]
    assert labelled["metadata"]["labels"]["release"] == "kube-prometheus-stack", "selected like the ServiceMonitor"


def test_every_alert_parses_as_promql_and_selects_the_model_at_its_stage_by_the_service_monitors_labels():
    rendered = objects()
    rules = alert_rules(render())
    added = {relabel["targetLabel"]: relabel["replacement"]
             for relabel in rendered["ServiceMonitor"]["spec"]["endpoints"][0]["relabelings"]}

    assert [rule["alert"] for rule in rules] == [
        "MlshipModelDown", "MlshipHighErrorRate", "MlshipHighRejectionRate", "MlshipHighLatency",
        "MlshipMissingValuesAboveTraining", "MlshipPredictionLogFailing", "MlshipNoPredictions"]
    for rule in rules:
        assert rule["labels"] == {"severity": rule["labels"]["severity"], "mlship_model": "churn",
                                  "mlship_stage": "prod"}
        assert rule["labels"]["severity"] in ("critical", "warning")
        assert rule["annotations"]["summary"].startswith("churn (prod) ") and rule["annotations"]["description"]
        found = selectors(rule["expr"])
        assert found, rule["alert"]
        for selector in found:
            assert equal_matchers(selector).items() >= {"mlship_model": "churn", "mlship_stage": "prod"}.items()
            assert {"mlship_model", "mlship_stage"} <= added.keys(), "labels Prometheus puts on the scraped series"


def test_the_alert_thresholds_come_from_the_alerting_settings():
    def threshold(rules: list[dict[str, Any]], alert: str) -> float:
        (rule,) = [rule for rule in rules if rule["alert"] == alert]
        expression = promql(rule["expr"])
        assert str(expression.op) == ">"
        return expression.rhs.val

    defaults = alert_rules()
    assert [threshold(defaults, alert) for alert in ("MlshipHighErrorRate", "MlshipHighRejectionRate",
                                                     "MlshipHighLatency", "MlshipMissingValuesAboveTraining")] \
        == [0.05, 0.1, 1.0, 0.1]
    strict = Alerting(error_ratio=0.01, rejection_ratio=0.5, p99_latency_seconds=0.25, missing_ratio_increase=0.02,
                      no_predictions_for="2h")
    rules = alert_rules(render(alerting=strict))
    assert [threshold(rules, alert) for alert in ("MlshipHighErrorRate", "MlshipHighRejectionRate",
                                                  "MlshipHighLatency", "MlshipMissingValuesAboveTraining")] \
        == [0.01, 0.5, 0.25, 0.02]
    (idle,) = [rule for rule in rules if rule["alert"] == "MlshipNoPredictions"]
    assert "[2h]" in idle["expr"]
    quiet = alert_rules(render(alerting=Alerting(no_predictions_for=None)))
    assert "MlshipNoPredictions" not in [rule["alert"] for rule in quiet]


@pytest.mark.parametrize("task", [None, "classification", "regression"])
@pytest.mark.parametrize("schema", GRAFANA_SCHEMAS, ids=lambda path: path.stem)
def test_the_dashboard_validates_against_grafanas_dashboard_model(schema, task):
    board = dashboard(render(task=task))
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
              for e in grafana_validator(schema).iter_errors(board)]
    assert errors == []


def test_every_dashboard_query_parses_as_promql_and_selects_the_model_at_its_stage():
    board = dashboard()

    assert board["templating"]["list"][0] == {**board["templating"]["list"][0], "name": "datasource",
                                              "type": "datasource", "query": "prometheus"}
    for panel in board["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        for target in panel["targets"]:
            for selector in selectors(target["expr"]):
                assert equal_matchers(selector).items() >= {"mlship_model": "churn", "mlship_stage": "prod"}.items()
    assert len(queries(board)) >= len(board["panels"])
    ids = [panel["id"] for panel in board["panels"]]
    assert len(set(ids)) == len(ids)
    cells = [(x, y) for panel in board["panels"] for position in [panel["gridPos"]]
             for x in range(position["x"], position["x"] + position["w"])
             for y in range(position["y"], position["y"] + position["h"])]
    assert len(set(cells)) == len(cells), "no two panels overlap"
    assert all(x < 24 for x, _ in cells), "Grafana's grid is 24 columns wide"


def test_the_dashboard_shows_traffic_latency_errors_missing_values_and_the_predictions_of_its_task():
    common = {"Prediction requests", "Latency", "Errors (5xx)", "Rejected inputs (4xx)", "Records", "Missing values",
              "Prediction log", "Pods up"}
    classification = {"Predicted classes", "Mean predicted probability"}
    regression = {"Predicted values", "Distribution of predicted values"}
    titles = {task: {panel["title"] for panel in dashboard(render(task=task))["panels"]}
              for task in (None, "classification", "regression")}

    assert titles["classification"] == common | classification
    assert titles["regression"] == common | regression
    assert titles[None] == common | classification | regression
    latency = next(panel for panel in dashboard()["panels"] if panel["title"] == "Latency")
    assert [target["legendFormat"] for target in latency["targets"]] == ["p50", "p99"]
    assert latency["fieldConfig"]["defaults"]["thresholds"]["steps"][-1]["value"] == 1.0, "the alert's bound"


def test_the_dashboard_config_map_is_labelled_for_grafanas_sidecar_and_named_per_stage():
    rendered = objects(render(namespace="models"))
    config_map = rendered["ConfigMap"]

    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["namespace"] == "models"
    assert list(config_map["data"]) == ["mlship-churn-prod.json"]
    assert dashboard() == manifests.dashboard("churn", "prod"), "the same dashboard, for an import by hand"
    staging = dashboard(render(stage="staging"))
    assert (dashboard()["uid"], staging["uid"]) == ("mlship-churn-prod", "mlship-churn-staging")
    assert staging["title"] == "mlship: churn (staging)"
    other = objects(render(dashboard_labels={"team": "ml"}))["ConfigMap"]["metadata"]["labels"]
    assert other["team"] == "ml" and "grafana_dashboard" not in other
    name = "m" * 40
    long = dashboard(render(name=name, stage="s" * 20, bento_tag=f"{name}:{BENTO_VERSION}"))
    assert len(long["uid"]) <= 40 and long["uid"].startswith("mlship-")


def test_the_validators_refuse_broken_rules_and_dashboards():
    """The validations above can fail: a broken expression, a misspelt field, a wrong type."""
    for broken in ("sum(rate(x[5m])", "rate(x[5 minutes])", "x{a=b}", "sum by (le (x)"):
        with pytest.raises(ValueError):
            promql_parser.parse(broken)

    rule = objects()["PrometheusRule"]
    validator = crd_validator(PROMETHEUS_RULE_SCHEMA)
    for change in (lambda r: r["spec"]["groups"][0]["rules"][0].pop("expr"),
                   lambda r: r["spec"]["groups"][0]["rules"][0].update({"for": 5}),
                   lambda r: r["spec"]["groups"][0].update({"rulez": []}),
                   lambda r: r["spec"]["groups"][0]["rules"][0]["labels"].update({"severity": 1})):
        broken_rule = copy.deepcopy(rule)
        change(broken_rule)
        assert not validator.is_valid(broken_rule)

    board = dashboard()
    for schema in GRAFANA_SCHEMAS:
        validator = grafana_validator(schema)
        for change in (lambda b: b["panels"][0].update({"gridpos": {}}),
                       lambda b: b.update({"schemaVersion": "39"}),
                       lambda b: b["panels"][0]["gridPos"].pop("w"),
                       lambda b: b["templating"]["list"][0].update({"type": "prometheus"})):
            broken_board = copy.deepcopy(board)
            change(broken_board)
            assert not validator.is_valid(broken_board), schema.name


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
    ({"task": "ranking"}, "task 'ranking' is not a model task: expected one of classification, regression"),
    ({"alerting": Alerting(error_ratio=0)}, "alerting error_ratio is a share .* not 0"),
    ({"alerting": Alerting(missing_ratio_increase=1.5)}, "alerting missing_ratio_increase is a share"),
    ({"alerting": Alerting(p99_latency_seconds=-1)}, "p99_latency_seconds must be a number of seconds above 0"),
    ({"alerting": Alerting(no_predictions_for="30 minutes")}, "no_predictions_for '30 minutes' is not a Prometheus"),
    ({"dashboard_labels": {"grafana dashboard": "1"}}, "not a valid Kubernetes label key"),
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
    assert len(list(yaml.safe_load_all(path.read_text(encoding="utf-8")))) == len(manifests.KINDS)


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
    packaged = (PACKAGE_TEMPLATES / manifests.TEMPLATE).read_text(encoding="utf-8")
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
