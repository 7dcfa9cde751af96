"""Kubernetes manifests of a deployed model, kept in git for Argo CD or Flux to sync.

The ``kubernetes`` deploy target does not talk to a cluster: it renders the desired state
of a model at a stage into ``deploy/<stage>/<name>.yaml`` and a GitOps controller brings the
cluster to it. The file holds four objects, all named after the model:

* a **Deployment** of the image that ``bentoml containerize`` built from the bento (BentoML
  listens on port 3000; ``/livez`` and ``/readyz`` are its health endpoints), rolled out
  without ever going below the desired number of ready pods;
* a **Service** (ClusterIP) that maps port 80 to the container's port ``http``;
* a **HorizontalPodAutoscaler** (``autoscaling/v2``) on CPU utilisation;
* a **ServiceMonitor** (prometheus-operator's ``monitoring.coreos.com/v1``) scraping
  BentoML's ``/metrics`` on the ``http`` port.

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

Only GA APIs are used (``apps/v1``, ``v1``, ``autoscaling/v2``), so the manifests suit every
Kubernetes release since 1.23; the tests validate them against the schemas of 1.25 to 1.37.
"""

from __future__ import annotations

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
KINDS = ("Deployment", "Service", "HorizontalPodAutoscaler", "ServiceMonitor")

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
    project_root: Path | None = None,
) -> str:
    """The manifests of ``name`` at ``version`` deployed to ``stage``: a multi-document YAML text.

    ``image`` is the container ``bentoml containerize`` built from the bento ``bento_tag``
    (see :func:`image_reference`), pinned by a tag or a digest. ``replicas`` is the number of
    pods the autoscaler never goes below, ``max_replicas`` the most it starts, at
    ``target_cpu_utilization`` percent of the CPU request. Without ``namespace`` the objects
    take the one the GitOps controller syncs them into. ``monitor_labels`` are added to the
    ServiceMonitor, for a Prometheus that selects monitors by label (kube-prometheus-stack
    wants ``release: <its release name>`` unless configured otherwise). A project's
    ``.mlship/templates/k8s.yaml.j2`` replaces the packaged template.

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
        "env": {"BENTOML_DO_NOT_TRACK": "true", "BENTOML_HOME": BENTOML_HOME},
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
    from mlship.report import environment

    env = environment(project_root)
    # A JSON string is a valid YAML scalar: values are quoted, so none can change the document's structure.
    env.filters["q"] = _quote
    env.filters["block"] = _block
    return env


def _quote(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


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
