"""Kubernetes manifests of a deployed model, kept in git for Argo CD or Flux to sync.

The ``kubernetes`` deploy target does not talk to a cluster: it renders the desired state
of a model at a stage into ``deploy/<stage>/<name>.yaml`` and a GitOps controller brings the
cluster to it. The file holds six objects, named after the model:

* a **Deployment** of the image that ``bentoml containerize`` built from the bento (BentoML
  listens on port 3000; ``/livez`` and ``/readyz`` are its health endpoints), rolled out
  without ever going below the desired number of ready pods;
* a **Service** (ClusterIP) that maps port 80 to the container's port ``http``;
* a **HorizontalPodAutoscaler** (``autoscaling/v2``) on CPU utilisation;
* a **ServiceMonitor** (prometheus-operator's ``monitoring.coreos.com/v1``) scraping
  BentoML's ``/metrics`` on the ``http`` port, labelling every series with the model, the
  stage and the version (``mlship_model``, ``mlship_stage``, ``mlship_version``);
* a **PrometheusRule** with the model's alerts (:func:`alert_rules`): down, errors, rejected
  inputs, p99 latency, missing values above training, no predictions, failing prediction log;
* a **ConfigMap** ``<name>-dashboard`` holding a Grafana dashboard (:func:`dashboard`), labelled
  ``grafana_dashboard: "1"`` so that Grafana's dashboard sidecar (Grafana's Helm chart,
  kube-prometheus-stack) loads it.

Alert rules and the dashboard travel in the same file as the deployment because that is
what a GitOps controller syncs: prometheus-operator picks up a PrometheusRule, and Grafana's
sidecar a labelled ConfigMap, with no step outside git; they change and roll back with the
version they watch. A separate ``.json`` dashboard file would break the sync: Argo CD reads
every ``.json`` file of a directory application as a Kubernetes object and refuses one without
``kind`` (Flux only reads ``.yaml``). For an import by hand, :func:`dashboard` returns the JSON.

The layout lives in the Jinja2 template ``templates/k8s.yaml.j2``; a project overrides it,
like the report templates, with a file of the same name in ``.mlship/templates/``. Every
value reaching the template is checked here first (names, image reference, quantities), so
a mistake is reported with what to change instead of being rejected later by the cluster.

Choices worth knowing (each is also a comment in the template):

* The Deployment has no ``replicas`` field: the autoscaler owns the count, and a fixed
  number in git would make Argo CD or Flux reset it on every sync.
* ``bentoml containerize`` images run as the user ``bentoml`` (uid and gid 1034); the pod
  names that uid, because ``runAsNonRoot`` cannot verify a user given by name. The pod
  meets the Pod Security Standards' *restricted* profile.
* The root filesystem is read-only. BentoML writes only below ``BENTOML_HOME`` (it creates
  ``bentos/``, ``models/``, ``envs/``, ``tmp/`` and the Prometheus multiprocess folder when
  it starts, even when serving a bento folder) and to ``/tmp``, so ``BENTOML_HOME`` points
  into an ``emptyDir`` mounted at ``/tmp``; the bento and its models stay read-only in the image.
  (Checked with BentoML 1.4.39 by serving an exported bento, laid out as in its image, with
  the bento, the virtualenv and the interpreter mounted read-only, under strace.)
* Service links are off: Kubernetes would otherwise inject ``<SERVICE>_PORT`` variables,
  and a Service named ``bentoml`` in the namespace would set ``BENTOML_PORT``, which BentoML
  reads as the port to listen on.
* The container gets ``MLSHIP_RELEASE``, the version it was deployed as, which the service
  reports in ``/metadata``.
* The alerts and panels select series by the ServiceMonitor's ``mlship_*`` labels, not by
  namespace or job, so they hold wherever the controller puts the objects. They use BentoML's
  own request metrics (``bentoml_service_request_total`` and
  ``bentoml_service_request_duration_seconds``, restricted to the prediction endpoints because
  BentoML also counts health checks) and the service's ``mlship_*`` metrics
  (``templates/service.py.j2``).

Only GA APIs are used (``apps/v1``, ``v1``, ``autoscaling/v2``), so the manifests suit every
Kubernetes release since 1.23; the tests validate them against the schemas of 1.25 to 1.37.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Mapping

import jinja2
import yaml

from mlship.errors import MlshipError, display_path
from mlship.files import atomic_write_text

DEPLOY_DIR = "deploy"
TEMPLATE = "k8s.yaml.j2"
#: What the file holds, in this order.
KINDS = ("Deployment", "Service", "HorizontalPodAutoscaler", "ServiceMonitor", "PrometheusRule", "ConfigMap")
TASKS = ("classification", "regression")

#: BentoML's HTTP port in the container, and the Service's port in front of it.
CONTAINER_PORT = 3000
SERVICE_PORT = 80
PORT_NAME = "http"
LIVENESS_PATH = "/livez"
READINESS_PATH = "/readyz"
METRICS_PATH = "/metrics"
#: The user that ``bentoml containerize`` images run as (``USER bentoml``, created with this uid and gid).
BENTO_UID = 1034
#: Writable scratch space (an emptyDir) and BentoML's home inside it; the rest of the filesystem is read-only.
TMP_DIR = "/tmp"
TMP_SIZE_LIMIT = "256Mi"
BENTOML_HOME = "/tmp/bentoml"
#: Prefix of the annotations mlship writes.
ANNOTATION_PREFIX = "mlship.dev/"
#: The variable the service reports as its release in ``/metadata``.
RELEASE_ENV = "MLSHIP_RELEASE"

#: Target labels the ServiceMonitor adds to every series of the model's pods.
MODEL_LABEL = "mlship_model"
STAGE_LABEL = "mlship_stage"
VERSION_LABEL = "mlship_version"
#: The endpoints that predict (BentoML's request metrics also count health checks and /metadata).
PREDICTION_ENDPOINTS = ("/predict", "/predict_proba")
#: What Grafana's dashboard sidecar looks for by default (Grafana's Helm chart, kube-prometheus-stack).
DEFAULT_DASHBOARD_LABELS = {"grafana_dashboard": "1"}
#: Grafana 11.0's dashboard schema version; newer Grafana migrates it when loading.
DASHBOARD_SCHEMA_VERSION = 39
#: Grafana dashboard uids have at most 40 characters.
MAX_DASHBOARD_UID = 40

DEFAULT_REPLICAS = 2
DEFAULT_MAX_REPLICAS = 5
DEFAULT_TARGET_CPU_UTILIZATION = 70
DEFAULT_SCRAPE_INTERVAL = "30s"

MAX_LABEL = 63
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?")
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_FINGERPRINT = re.compile(r"[0-9a-f]{64}")
_BENTO_TAG = re.compile(r"(?P<name>[a-z0-9]([-._a-z0-9]*[a-z0-9])?):(?P<version>[A-Za-z0-9]([-._A-Za-z0-9]*[A-Za-z0-9])?)")
_DURATION = re.compile(r"(0|([0-9]+y)?([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?)")

# An image reference, after github.com/distribution/reference: [host[:port]/]path[:tag][@digest].
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])"
_IMAGE = re.compile(
    rf"(?P<name>(?:(?P<domain>{_HOST}(?::[0-9]+)?)/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?"
)
MAX_IMAGE_NAME = 255

# Kubernetes quantities: a decimal number with a binary (Ki..Ei), decimal (n..E) or exponent suffix.
_QUANTITY = re.compile(r"(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?")
_SUFFIXES = {
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1), "k": Decimal("1e3"),
    "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"), "P": Decimal("1e15"), "E": Decimal("1e18"),
    **{f"{prefix}i": Decimal(1024) ** power for power, prefix in enumerate("KMGTPE", start=1)},
}


class ManifestError(MlshipError):
    """A value cannot go into the Kubernetes manifests, or the template does not render valid YAML."""


class InvalidNameError(ManifestError):
    """A model, stage or namespace name that Kubernetes does not accept as an object name."""


@dataclass(frozen=True)
class Resources:
    """The container's resource requests and limits, as Kubernetes quantities.

    The defaults fit a scikit-learn model served by BentoML: its two processes take about
    420 MB together after serving 1,000-row batches, so 512Mi is requested and 1Gi is the
    ceiling. The autoscaler measures CPU against the request. A limit of None leaves it out
    (some clusters prefer no CPU limit, to avoid throttling).
    """

    cpu_request: str = "500m"
    memory_request: str = "512Mi"
    cpu_limit: str | None = "1"
    memory_limit: str | None = "1Gi"


@dataclass(frozen=True)
class Alerting:
    """Thresholds of the model's alerts; the dashboard draws them on its panels.

    Ratios are shares of the prediction requests (or, for missing values, of the records) over
    the rule's window. A 4xx is an input the service's schema refused (an unknown category, a
    missing field): a client sending data the model was not trained on.
    """

    #: Requests answered 5xx, over 5 minutes, for 10 minutes.
    error_ratio: float = 0.05
    #: Requests answered 4xx, over 5 minutes, for 10 minutes.
    rejection_ratio: float = 0.10
    #: The 99th percentile of the prediction requests' duration, over 5 minutes, for 10 minutes.
    p99_latency_seconds: float = 1.0
    #: How much a feature's share of missing values, over 30 minutes, may exceed its share in training.
    missing_ratio_increase: float = 0.10
    #: Alert when no prediction was requested for this long; None for a stage that may be idle.
    no_predictions_for: str | None = "30m"


def render_manifests(
    name: str,
    stage: str,
    version: str,
    image: str,
    *,
    bento_tag: str,
    fingerprint: str,
    replicas: int = DEFAULT_REPLICAS,
    max_replicas: int = DEFAULT_MAX_REPLICAS,
    target_cpu_utilization: int = DEFAULT_TARGET_CPU_UTILIZATION,
    resources: Resources = Resources(),
    namespace: str | None = None,
    scrape_interval: str = DEFAULT_SCRAPE_INTERVAL,
    monitor_labels: Mapping[str, str] | None = None,
    task: str | None = None,
    alerting: Alerting = Alerting(),
    dashboard_labels: Mapping[str, str] | None = None,
    project_root: Path | None = None,
) -> str:
    """The manifests of ``name`` at ``version`` deployed to ``stage``: a multi-document YAML text.

    ``image`` is the container ``bentoml containerize`` built from the bento ``bento_tag``
    (see :func:`image_reference`), pinned by a tag or a digest. ``replicas`` is the number of
    pods the autoscaler never goes below, ``max_replicas`` the most it starts, at
    ``target_cpu_utilization`` percent of the CPU request. Without ``namespace`` the objects
    take the one the GitOps controller syncs them into. ``monitor_labels`` are added to the
    ServiceMonitor, for a Prometheus that selects monitors by label (kube-prometheus-stack
    wants ``release: <its release name>`` unless configured otherwise); the PrometheusRule gets
    them too, for the same reason. ``task`` (``classification`` or ``regression``) chooses the
    dashboard's prediction panels; without it, it has both kinds. ``alerting`` sets the alerts'
    thresholds, and ``dashboard_labels`` replace ``grafana_dashboard: "1"`` on the dashboard's
    ConfigMap for a sidecar configured otherwise. A project's ``.mlship/templates/k8s.yaml.j2``
    replaces the packaged template.

    Raises :class:`InvalidNameError` for a name Kubernetes would refuse, and
    :class:`ManifestError` for any other value that cannot be deployed as given.
    """
    check_model_name(name)
    check_dns_label(stage, "stage")
    if namespace is not None:
        check_dns_label(namespace, "namespace")
    instance = f"{name}-{stage}"
    if len(instance) > MAX_LABEL:
        raise InvalidNameError(
            f"model name '{name}' and stage '{stage}' together are too long for Kubernetes: the label "
            f"app.kubernetes.io/instance={instance} has {len(instance)} characters, at most {MAX_LABEL} are allowed. "
            "Use a shorter model or stage name")
    _check_label_value(version, "model version", "like 1.2.0 or v1.2.0")
    check_image(image)
    bento_version = _check_bento_tag(bento_tag, name)
    if not isinstance(fingerprint, str) or not _FINGERPRINT.fullmatch(fingerprint):
        raise ManifestError(f"fingerprint {fingerprint!r} is not a model fingerprint (64 lowercase hex digits, "
                            "a SHA-256 as in reports/<name>/metrics.json)")
    _check_scaling(replicas, max_replicas, target_cpu_utilization)
    requests, limits = _check_resources(resources)
    if not isinstance(scrape_interval, str) or not scrape_interval or not _DURATION.fullmatch(scrape_interval) \
            or scrape_interval == "0":
        raise ManifestError(f"scrape interval {scrape_interval!r} is not a Prometheus duration such as 30s or 1m")
    extra_monitor_labels = dict(monitor_labels or {})
    for key, value in extra_monitor_labels.items():
        _check_label_key(key)
        _check_label_value(value, f"ServiceMonitor label {key}", "")
    if task is not None and task not in TASKS:
        raise ManifestError(f"task {task!r} is not a model task: expected one of {', '.join(TASKS)}")
    _check_alerting(alerting)
    sidecar_labels = dict(DEFAULT_DASHBOARD_LABELS if dashboard_labels is None else dashboard_labels)
    for key, value in sidecar_labels.items():
        _check_label_key(key)
        _check_label_value(value, f"dashboard label {key}", "")

    selector = {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": instance}
    labels = {
        **selector,
        "app.kubernetes.io/version": version,
        "app.kubernetes.io/component": "model-server",
        "app.kubernetes.io/managed-by": "mlship",
    }
    annotations = {
        f"{ANNOTATION_PREFIX}model": name,
        f"{ANNOTATION_PREFIX}model-version": version,
        f"{ANNOTATION_PREFIX}stage": stage,
        f"{ANNOTATION_PREFIX}fingerprint": fingerprint,
        f"{ANNOTATION_PREFIX}bento-tag": bento_tag,
    }
    context = {
        "name": name,
        "stage": stage,
        "version": version,
        "image": image,
        "bento_tag": bento_tag,
        "bento_version": bento_version,
        "fingerprint": fingerprint,
        "namespace": namespace,
        "selector": selector,
        "labels": labels,
        "annotations": annotations,
        "monitor_labels": {**labels, **extra_monitor_labels},
        "replicas": replicas,
        "max_replicas": max_replicas,
        "target_cpu_utilization": target_cpu_utilization,
        "requests": requests,
        "limits": limits,
        "container_port": CONTAINER_PORT,
        "service_port": SERVICE_PORT,
        "port_name": PORT_NAME,
        "liveness_path": LIVENESS_PATH,
        "readiness_path": READINESS_PATH,
        "metrics_path": METRICS_PATH,
        "scrape_interval": scrape_interval,
        "uid": BENTO_UID,
        "tmp_dir": TMP_DIR,
        "tmp_size_limit": TMP_SIZE_LIMIT,
        "env": {"BENTOML_DO_NOT_TRACK": "true", "BENTOML_HOME": BENTOML_HOME, RELEASE_ENV: version},
        "relabelings": {MODEL_LABEL: name, STAGE_LABEL: stage, VERSION_LABEL: version},
        "rules": _yaml({"groups": [{"name": f"mlship.{name}.{stage}",
                                    "rules": alert_rules(name, stage, alerting)}]}),
        "dashboard_name": f"{name}-dashboard",
        "dashboard_labels": {**labels, **sidecar_labels},
        "dashboard_file": f"mlship-{name}-{stage}.json",
        "dashboard": json.dumps(dashboard(name, stage, task, alerting), indent=2, ensure_ascii=False),
    }
    template = _environment(project_root).get_template(TEMPLATE)
    text = template.render(**context)
    _check_rendered(text, template)
    return text


def write_manifests(project_root: Path, stage: str, name: str, text: str) -> Path:
    """Write ``text`` to ``deploy/<stage>/<name>.yaml`` in the project and return that path.

    The file is replaced atomically (a syncing controller never reads half of it), and not
    at all when it already holds ``text``: an unchanged deployment leaves no change in git.
    """
    path = manifest_path(project_root, stage, name)
    try:
        if path.read_text(encoding="utf-8") == text:
            return path
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    atomic_write_text(path, text)
    return path


def manifest_path(project_root: Path, stage: str, name: str) -> Path:
    """Where the manifests of ``name`` at ``stage`` live: ``deploy/<stage>/<name>.yaml``."""
    check_model_name(name)
    check_dns_label(stage, "stage")
    return Path(project_root) / DEPLOY_DIR / stage / f"{name}.yaml"


def image_reference(registry: str, bento_tag: str) -> str:
    """The image ``bentoml containerize <bento_tag>`` builds, pushed to ``registry``: ``<registry>/<name>:<version>``."""
    reference = f"{registry.rstrip('/')}/{bento_tag.lower()}"
    check_image(reference)
    return reference


# --- alerts and dashboard -----------------------------------------------------------------------------

_PREDICTING = 'endpoint=~"' + "|".join(PREDICTION_ENDPOINTS) + '"'


def alert_rules(name: str, stage: str, alerting: Alerting = Alerting()) -> list[dict[str, Any]]:
    """The Prometheus alerting rules of ``name`` at ``stage``: the one group of its PrometheusRule."""
    up = _series("up", name, stage)
    requests = _series("bentoml_service_request_total", name, stage, _PREDICTING)
    errors = _series("bentoml_service_request_total", name, stage, _PREDICTING, 'http_response_code=~"5.."')
    rejected = _series("bentoml_service_request_total", name, stage, _PREDICTING, 'http_response_code=~"4.."')
    durations = _series("bentoml_service_request_duration_seconds_bucket", name, stage, _PREDICTING)
    failed = _series("mlship_prediction_log_records_total", name, stage, 'outcome="failed"')
    where = f"{name} ({stage})"
    rules = [
        _alert("MlshipModelDown", f"sum({up}) < 1\nor\nabsent({up})", "5m", "critical", name, stage,
               f"{where} is down",
               "No pod of the model has answered Prometheus's scrapes for 5 minutes, or Prometheus has none to "
               "scrape (is the ServiceMonitor selected by Prometheus?)."),
        _alert("MlshipHighErrorRate",
               f"sum(rate({errors}[5m]))\n/\nsum(rate({requests}[5m]))\n> {alerting.error_ratio}",
               "10m", "critical", name, stage, f"{where} fails predictions",
               "{{ $value | humanizePercentage }} of the prediction requests were answered with a server error "
               "(5xx) over the last 5 minutes."),
        _alert("MlshipHighRejectionRate",
               f"sum(rate({rejected}[5m]))\n/\nsum(rate({requests}[5m]))\n> {alerting.rejection_ratio}",
               "10m", "warning", name, stage, f"{where} rejects inputs",
               "{{ $value | humanizePercentage }} of the prediction requests were refused (4xx) over the last 5 "
               "minutes: clients send records the model's input schema does not accept (a missing field, an "
               "unknown category, a value of the wrong type)."),
        _alert("MlshipHighLatency",
               f"histogram_quantile(0.99, sum by (le) (rate({durations}[5m])))\n> {alerting.p99_latency_seconds}",
               "10m", "warning", name, stage, f"{where} is slow",
               "The 99th percentile of the prediction requests' duration has been {{ $value | humanizeDuration }} "
               "over the last 5 minutes."),
        _alert("MlshipMissingValuesAboveTraining", _missing_increase(name, stage, alerting.missing_ratio_increase),
               "15m", "warning", name, stage, f"{where} receives more missing values than in training",
               "{{ $labels.feature }} is missing in {{ $value | humanizePercentage }} more of the records than in "
               "the training data (over the last 30 minutes). The model imputes them, but its predictions "
               "may suffer: check the data source."),
        _alert("MlshipPredictionLogFailing", f"sum(increase({failed}[15m])) > 0", None, "warning", name, stage,
               f"{where} cannot write its prediction log",
               "{{ $value }} records could not be written to the prediction log in the last 15 minutes "
               "(predictions are served; drift checks lack their data). Check the log folder's space "
               "and permissions."),
    ]
    if alerting.no_predictions_for:
        rules.append(_alert(
            "MlshipNoPredictions", f"sum(rate({requests}[{alerting.no_predictions_for}])) == 0", "5m", "warning",
            name, stage, f"{where} gets no prediction requests",
            f"No prediction was requested in the last {alerting.no_predictions_for}: are the clients still "
            "calling this model?"))
    return rules


def _alert(alert: str, expr: str, after: str | None, severity: str, name: str, stage: str, summary: str,
           description: str) -> dict[str, Any]:
    """A rule firing once ``expr`` has held for ``after`` (at once when None)."""
    return {"alert": alert, "expr": expr, **({"for": after} if after else {}),
            "labels": {"severity": severity, MODEL_LABEL: name, STAGE_LABEL: stage},
            "annotations": {"summary": summary, "description": description}}


def _missing_increase(name: str, stage: str, increase: float) -> str:
    """Each feature's share of missing values over 30 minutes, less its share in training (0 where the
    model carries no reference profile), above ``increase``."""
    missing = f"sum by (feature) (rate({_series('mlship_input_missing_values_total', name, stage)}[30m]))"
    records = f"sum(rate({_series('mlship_input_records_total', name, stage)}[30m]))"
    reference = f"max by (feature) ({_series('mlship_reference_missing_ratio', name, stage)})"
    return (f"(\n  {missing}\n  / ignoring (feature) group_left\n  {records}\n)\n- on (feature)\n"
            f"(\n  {reference}\n  or\n  {missing} * 0\n)\n> {increase}")


def dashboard(name: str, stage: str, task: str | None = None, alerting: Alerting = Alerting()) -> dict[str, Any]:
    """The Grafana dashboard of ``name`` at ``stage``: traffic, errors, latency, inputs and predictions.

    ``task`` chooses the prediction panels (class shares and probabilities, or the distribution of
    predicted values); without it, the dashboard has both. Queries go to the Prometheus data source
    chosen in the dashboard's ``datasource`` variable.
    """
    def series(metric: str, *matchers: str) -> str:
        return _series(metric, name, stage, *matchers)

    window = "[$__rate_interval]"
    requests = series("bentoml_service_request_total", _PREDICTING)
    errors = series("bentoml_service_request_total", _PREDICTING, 'http_response_code=~"5.."')
    rejected = series("bentoml_service_request_total", _PREDICTING, 'http_response_code=~"4.."')
    durations = series("bentoml_service_request_duration_seconds_bucket", _PREDICTING)
    total = f"sum(rate({requests}{window}))"
    missing = f"sum by (feature) (rate({series('mlship_input_missing_values_total')}{window}))"
    records = f"sum(rate({series('mlship_input_records_total')}{window}))"
    panels = [
        _panel("Prediction requests", "reqps", [
            (f"sum by (endpoint, http_response_code) (rate({requests}{window}))",
             "{{endpoint}} {{http_response_code}}")],
            "Requests to the prediction endpoints per second, by endpoint and HTTP status."),
        _panel("Latency", "s", [
            (f"histogram_quantile({q}, sum by (le) (rate({durations}{window})))", f"p{round(q * 100)}")
            for q in (0.5, 0.99)], "Duration of the prediction requests: median and 99th percentile.",
            threshold=alerting.p99_latency_seconds),
        _panel("Errors (5xx)", "percentunit", [(f"sum(rate({errors}{window})) / {total}", "5xx")],
               "Share of the prediction requests answered with a server error.", threshold=alerting.error_ratio),
        _panel("Rejected inputs (4xx)", "percentunit", [(f"sum(rate({rejected}{window})) / {total}", "4xx")],
               "Share of the prediction requests whose records the input schema refused.",
               threshold=alerting.rejection_ratio),
        _panel("Records", "short", [
            (f"sum by (endpoint) (rate({series('mlship_input_records_total')}{window}))", "{{endpoint}}")],
            "Records predicted per second (a request carries one or more)."),
        _panel("Missing values", "percentunit", [
            (f"{missing} / ignoring (feature) group_left {records}", "{{feature}}"),
            (f"max by (feature) ({series('mlship_reference_missing_ratio')})", "{{feature}} in training")],
            "Share of the records in which each feature is null (imputed by the model), and its share in the "
            "training data."),
    ]
    if task in (None, "classification"):
        predicted = f"sum by (class) (rate({series('mlship_predictions_total')}{window}))"
        probability = series("mlship_prediction_probability_sum")
        counted = series("mlship_prediction_probability_count")
        panels += [
            _panel("Predicted classes", "percentunit", [
                (f"{predicted} / ignoring (class) group_left sum({predicted})", "{{class}}")],
                "Share of each predicted class (the most probable class for predict_proba).", stack=True),
            _panel("Mean predicted probability", "percentunit", [
                (f"sum by (class) (rate({probability}{window})) / sum by (class) (rate({counted}{window}))",
                 "{{class}}")],
                "Mean probability predict_proba gives each class."),
        ]
    if task in (None, "regression"):
        values = series("mlship_prediction_value_bucket")
        panels += [
            _panel("Predicted values", "short", [
                (f"histogram_quantile({q}, sum by (le) (rate({values}{window})))", f"p{round(q * 100)}")
                for q in (0.1, 0.5, 0.9)], "Quantiles of the predicted values (from the histogram's buckets)."),
            _panel("Distribution of predicted values", "short", [
                (f"sum by (le) (increase({values}{window}))", "{{le}}")],
                "Predicted values per histogram bucket; the bounds are quantiles of the held-out predictions.",
                kind="heatmap"),
        ]
    panels += [
        _panel("Prediction log", "short", [
            (f"sum by (outcome) (rate({series('mlship_prediction_log_records_total')}{window}))", "{{outcome}}")],
            "Records written to the sampled prediction log per second, and those that could not be written."),
        _panel("Pods up", "short", [(f"sum({series('up')})", "up")],
               "Pods of the model that Prometheus scrapes successfully.", kind="stat"),
    ]
    for index, panel in enumerate(panels):
        panel["id"] = index + 1
        panel["gridPos"] = {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)}
    return {
        "uid": _dashboard_uid(name, stage),
        "title": f"mlship: {name} ({stage})",
        "description": f"The model {name} at stage {stage}, generated by mlship.",
        "tags": ["mlship", name, stage],
        "editable": True,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": DASHBOARD_SCHEMA_VERSION,
        "time": {"from": "now-6h", "to": "now"},
        "timezone": "browser",
        "links": [],
        "annotations": {"list": [{
            "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True, "hide": True,
            "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard"}]},
        "templating": {"list": [{
            "name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
            "hide": 0, "includeAll": False, "multi": False, "options": [], "refresh": 1, "regex": ""}]},
        "panels": panels,
    }


_DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def _panel(title: str, unit: str, queries: list[tuple[str, str]], description: str, *, kind: str = "timeseries",
           threshold: float | None = None, stack: bool = False) -> dict[str, Any]:
    """A panel of ``kind`` plotting each ``(expression, legend)``; ``threshold`` draws an alert's bound as a line."""
    defaults: dict[str, Any] = {"unit": unit}
    if kind == "timeseries":
        defaults["custom"] = {"stacking": {"mode": "normal" if stack else "none", "group": "A"},
                              "thresholdsStyle": {"mode": "line" if threshold is not None else "off"}}
    if threshold is not None:
        defaults["thresholds"] = {"mode": "absolute",
                                  "steps": [{"color": "green", "value": None}, {"color": "red", "value": threshold}]}
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": _DATASOURCE,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {},
        "targets": [{"refId": chr(ord("A") + index), "datasource": _DATASOURCE, "expr": expr, "legendFormat": legend,
                     "range": True, **({"format": "heatmap"} if kind == "heatmap" else {})}
                    for index, (expr, legend) in enumerate(queries)],
    }


def _dashboard_uid(name: str, stage: str) -> str:
    """``mlship-<name>-<stage>``, or a digest of it when longer than Grafana allows."""
    readable = f"mlship-{name}-{stage}"
    if len(readable) <= MAX_DASHBOARD_UID:
        return readable
    return "mlship-" + hashlib.sha256(readable.encode()).hexdigest()[:MAX_DASHBOARD_UID - len("mlship-")]


def _series(metric: str, name: str, stage: str, *matchers: str) -> str:
    """``metric{mlship_model="<name>",mlship_stage="<stage>",...}``: the series of the model at the stage."""
    return f'{metric}{{{MODEL_LABEL}="{name}",{STAGE_LABEL}="{stage}"' + "".join(f",{m}" for m in matchers) + "}"


# --- checks ----------------------------------------------------------------------------------------


def check_model_name(name: str) -> None:
    """A model name names every object, the Service too, whose name must also start with a letter
    (an RFC 1035 label, where other objects accept any RFC 1123 label)."""
    check_dns_label(name, "model name")
    if not name[0].isalpha():
        raise InvalidNameError(
            f"model name '{name}' cannot name a Kubernetes Service, whose name must start with a letter. "
            f"Rename the model, e.g. to '{_suggest(name)}'")


def check_dns_label(value: str, what: str) -> None:
    """Raise :class:`InvalidNameError` unless ``value`` is a DNS-1123 label (what Kubernetes accepts as a name)."""
    if isinstance(value, str) and len(value) <= MAX_LABEL and _DNS_LABEL.fullmatch(value):
        return
    rule = (f"at most {MAX_LABEL} characters: lowercase letters, digits and '-', starting and ending with a "
            "letter or digit (a DNS-1123 label)")
    hint = f". Rename it, e.g. to '{_suggest(value)}'" if isinstance(value, str) and _suggest(value) else ""
    raise InvalidNameError(f"{what} {value!r} is not a valid Kubernetes name: it must be {rule}{hint}")


def check_image(image: str) -> None:
    """Raise :class:`ManifestError` unless ``image`` is a well-formed image reference pinned by a tag or digest."""
    match = _IMAGE.fullmatch(image) if isinstance(image, str) else None
    if match is None:
        raise ManifestError(
            f"image {image!r} is not a valid image reference: expected [registry/]repository:tag or "
            "[registry/]repository@sha256:<digest>, with a lowercase repository (e.g. "
            "ghcr.io/acme/churn:fa4dd4f087993cce)")
    if len(match["name"]) > MAX_IMAGE_NAME:
        raise ManifestError(f"image {image!r} has a repository name over {MAX_IMAGE_NAME} characters")
    if not match["tag"] and not match["digest"]:
        raise ManifestError(
            f"image {image!r} has neither a tag nor a digest, so it means ':latest', which changes under a "
            "running deployment: give the bento's version as the tag (e.g. "
            f"{image}:<bento version>) or a digest")
    if match["tag"] == "latest" and not match["digest"]:
        raise ManifestError(
            f"image {image!r} is tagged ':latest', which changes under a running deployment and cannot be "
            "rolled back: tag the image with the bento's version, or pin it by digest")


def _check_bento_tag(bento_tag: str, name: str) -> str:
    match = _BENTO_TAG.fullmatch(bento_tag) if isinstance(bento_tag, str) else None
    if match is None:
        raise ManifestError(f"bento tag {bento_tag!r} is not a BentoML tag <name>:<version> "
                            "(as `mlship package` prints, e.g. churn:fa4dd4f087993cce)")
    if match["name"] != name:
        raise ManifestError(f"bento tag '{bento_tag}' is a bento of '{match['name']}', not of the model '{name}'")
    return match["version"]


def _check_label_value(value: str, what: str, example: str) -> None:
    if isinstance(value, str) and value and len(value) <= MAX_LABEL and _LABEL_VALUE.fullmatch(value):
        return
    raise ManifestError(
        f"{what} {value!r} cannot be a Kubernetes label value: it must have 1 to {MAX_LABEL} characters, "
        f"letters, digits, '-', '_' or '.', starting and ending with a letter or digit{f' ({example})' if example else ''}")


def _check_label_key(key: str) -> None:
    prefix, _, label = key.rpartition("/") if isinstance(key, str) else ("", "", "")
    if (label and len(label) <= MAX_LABEL and _LABEL_NAME.fullmatch(label)
            and (not prefix or (len(prefix) <= 253 and _DNS_SUBDOMAIN.fullmatch(prefix)))):
        return
    raise ManifestError(f"label key {key!r} is not a valid Kubernetes label key: [prefix/]name, where the name "
                        f"has at most {MAX_LABEL} letters, digits, '-', '_' or '.' and the prefix is a DNS subdomain")


def _check_scaling(replicas: int, max_replicas: int, target: int) -> None:
    for value, what in ((replicas, "replicas"), (max_replicas, "max_replicas"),
                        (target, "target_cpu_utilization")):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ManifestError(f"{what} must be a whole number of at least 1, not {value!r}")
    if max_replicas < replicas:
        raise ManifestError(f"max_replicas ({max_replicas}) is below replicas ({replicas}): the autoscaler "
                            "would have no room; raise max_replicas or lower replicas")
    if target > 100:
        raise ManifestError(f"target_cpu_utilization is a percentage of the CPU request, at most 100, not {target}")


def _check_resources(resources: Resources) -> tuple[dict[str, str], dict[str, str]]:
    """The requests and limits as the template wants them, each quantity checked, each limit at least its request."""
    requests = {"cpu": resources.cpu_request, "memory": resources.memory_request}
    limits = {key: value for key, value in (("cpu", resources.cpu_limit), ("memory", resources.memory_limit))
              if value is not None}
    amounts = {}
    for kind, values in (("request", requests), ("limit", limits)):
        for resource, value in values.items():
            amounts[resource, kind] = _quantity(value, f"{resource} {kind}")
    for resource in limits:
        if amounts[resource, "limit"] < amounts[resource, "request"]:
            raise ManifestError(f"the {resource} limit ({limits[resource]}) is below the {resource} request "
                                f"({requests[resource]}); Kubernetes refuses such a pod")
    return requests, limits


def _check_alerting(alerting: Alerting) -> None:
    for value, what in ((alerting.error_ratio, "error_ratio"), (alerting.rejection_ratio, "rejection_ratio"),
                        (alerting.missing_ratio_increase, "missing_ratio_increase")):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
            raise ManifestError(f"alerting {what} is a share of requests or records, more than 0 and at most 1, "
                                f"not {value!r}")
    latency = alerting.p99_latency_seconds
    if isinstance(latency, bool) or not isinstance(latency, (int, float)) or not 0 < latency < float("inf"):
        raise ManifestError(f"alerting p99_latency_seconds must be a number of seconds above 0, not {latency!r}")
    idle = alerting.no_predictions_for
    if idle is not None and (not isinstance(idle, str) or not _DURATION.fullmatch(idle) or idle in ("", "0")):
        raise ManifestError(f"alerting no_predictions_for {idle!r} is not a Prometheus duration such as 30m or 2h "
                            "(or None for no such alert)")


def _quantity(value: str, what: str) -> Decimal:
    match = _QUANTITY.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ManifestError(f"{what} {value!r} is not a Kubernetes quantity such as 500m, 1, 512Mi or 1Gi")
    suffix = match["suffix"] or ""
    try:
        number = Decimal(match["number"])
        amount = number * (Decimal(10) ** int(suffix[1:]) if suffix[:1] in ("e", "E") else _SUFFIXES[suffix])
    except (InvalidOperation, ValueError) as error:
        raise ManifestError(f"{what} {value!r} is not a Kubernetes quantity such as 500m or 1Gi") from error
    if amount <= 0:
        raise ManifestError(f"{what} {value!r} must be more than zero")
    return amount


def _suggest(value: str) -> str:
    """A DNS-1123 label close to ``value`` ('Churn_V2' -> 'churn-v2'), for error messages; "" if none."""
    text = re.sub(r"[^a-z0-9]+", "-", value.lower())
    text = re.sub(r"^[^a-z]+", "", text)[:MAX_LABEL].strip("-")
    return text if text != value else ""


# --- rendering -------------------------------------------------------------------------------------


def _environment(project_root: Path | None) -> jinja2.Environment:
    from mlship.templating import environment

    env = environment(project_root)
    # A JSON string is a valid YAML scalar: values are quoted, so none can change the document's structure.
    env.filters["q"] = _quote
    env.filters["block"] = _block
    return env


def _quote(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


class _Dumper(yaml.SafeDumper):
    """Block style like the template: sequences indented under their key, multi-line text as ``|``."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False)


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _text)


def _yaml(document: Any) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000).rstrip("\n")


def _block(mapping: Mapping[str, Any], indent: int) -> str:
    """A YAML block mapping of strings: one ``key: "value"`` line each, no newline after the last."""
    return "\n".join(f"{' ' * indent}{key}: {_quote(value)}" for key, value in mapping.items())


def _check_rendered(text: str, template: jinja2.Template) -> None:
    """The rendered text must be YAML documents, each a Kubernetes object (a project's template may add more)."""
    source = display_path(Path(template.filename)) if template.filename else TEMPLATE
    try:
        documents = [document for document in yaml.safe_load_all(text) if document is not None]
    except yaml.YAMLError as error:
        raise ManifestError(f"{source} does not render valid YAML: {error}") from error
    if not documents:
        raise ManifestError(f"{source} renders no Kubernetes object")
    for index, document in enumerate(documents, start=1):
        metadata = document.get("metadata") if isinstance(document, dict) else None
        if not (isinstance(document, dict) and document.get("apiVersion") and document.get("kind")
                and isinstance(metadata, dict) and metadata.get("name")):
            raise ManifestError(f"{source}: document {index} is not a Kubernetes object "
                                "(apiVersion, kind and metadata.name are required)")
