"""Regenerate ``servicemonitor-monitoring-v1.json``: the ServiceMonitor schema of prometheus-operator's CRD.

The schema is the CRD's ``openAPIV3Schema`` (descriptions removed), as the npm package
``@kubernetes-models/prometheus-operator`` publishes it: version 4.0.0 is the newest release that
ships it as a plain JSON object (later releases ship only compiled validators), generated from
prometheus-operator v0.57.0's ``example/prometheus-operator-crd-full/monitoring.coreos.com_servicemonitors.yaml``
(listed in the package's ``crd-generate.input``). ``monitoring.coreos.com/v1`` is prometheus-operator's
stable API: later releases only add fields, so a ServiceMonitor valid here is valid for them too.

Run it by hand (it needs npm and the network); the tests only read the JSON file it writes::

    .venv/bin/python tests/schemas/update_servicemonitor_schema.py
"""

from __future__ import annotations

import json
import subprocess
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "@kubernetes-models/prometheus-operator"
VERSION = "4.0.0"
MEMBER = "package/monitoring.coreos.com/v1/ServiceMonitor.js"
MARKER = "const schema = "
OUTPUT = Path(__file__).with_name("servicemonitor-monitoring-v1.json")


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(["npm", "pack", f"{PACKAGE}@{VERSION}", "--silent"], cwd=scratch, check=True,
                       capture_output=True)
        (tarball,) = Path(scratch).glob("*.tgz")
        with tarfile.open(tarball) as archive:
            manifest = json.load(archive.extractfile("package/package.json"))
            source = archive.extractfile(MEMBER).read().decode()
    (crd,) = [url for url in manifest["crd-generate"]["input"] if url.endswith("_servicemonitors.yaml")]
    # The module assigns the schema as a JSON object literal: decode exactly that object.
    schema, _ = json.JSONDecoder().raw_decode(source[source.index(MARKER) + len(MARKER):])
    document = {
        "$comment": f"The schema of {crd}, as published in the npm package {PACKAGE}@{VERSION} "
                    f"({MEMBER.removeprefix('package/')}, MIT licence; the CRD itself is Apache-2.0). "
                    "Regenerate with update_servicemonitor_schema.py.",
        **schema,
    }
    OUTPUT.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {OUTPUT.name} from {crd}")


if __name__ == "__main__":
    main()
