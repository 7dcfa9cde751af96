"""Regenerate the prometheus-operator CRD schemas the manifest tests validate against.

``servicemonitor-monitoring-v1.json`` and ``prometheusrule-monitoring-v1.json`` are the CRDs'
``openAPIV3Schema`` (descriptions removed), as the npm package ``@kubernetes-models/prometheus-operator``
publishes them: version 4.0.0 is the newest release that ships them as plain JSON objects (later
releases ship only compiled validators), generated from prometheus-operator v0.57.0's
``example/prometheus-operator-crd-full/`` CRDs (listed in the package's ``crd-generate.input``).
``monitoring.coreos.com/v1`` is prometheus-operator's stable API: later releases only add fields, so
an object valid here is valid for them too.

Run it by hand (it needs npm and the network); the tests only read the JSON files it writes::

    .venv/bin/python tests/ship/schemas/update_prometheus_operator_schemas.py
"""

from __future__ import annotations

import json
import subprocess
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "@kubernetes-models/prometheus-operator"
VERSION = "4.0.0"
MARKER = "const schema = "
#: kind -> (the end of the CRD file it was generated from, the output file)
KINDS = {
    "ServiceMonitor": ("_servicemonitors.yaml", "servicemonitor-monitoring-v1.json"),
    "PrometheusRule": ("_prometheusrules.yaml", "prometheusrule-monitoring-v1.json"),
}


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(["npm", "pack", f"{PACKAGE}@{VERSION}", "--silent"], cwd=scratch, check=True,
                       capture_output=True)
        (tarball,) = Path(scratch).glob("*.tgz")
        with tarfile.open(tarball) as archive:
            manifest = json.load(archive.extractfile("package/package.json"))
            sources = {kind: archive.extractfile(f"package/monitoring.coreos.com/v1/{kind}.js").read().decode()
                       for kind in KINDS}
    for kind, (crd_suffix, output) in KINDS.items():
        (crd,) = [url for url in manifest["crd-generate"]["input"] if url.endswith(crd_suffix)]
        source = sources[kind]
        # The module assigns the schema as a JSON object literal: decode exactly that object.
        schema, _ = json.JSONDecoder().raw_decode(source[source.index(MARKER) + len(MARKER):])
        document = {
            "$comment": f"The schema of {crd}, as published in the npm package {PACKAGE}@{VERSION} "
                        f"(monitoring.coreos.com/v1/{kind}.js, MIT licence; the CRD itself is Apache-2.0). "
                        f"Regenerate with {Path(__file__).name}.",
            **schema,
        }
        path = Path(__file__).with_name(output)
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {path.name} from {crd}")


if __name__ == "__main__":
    main()
