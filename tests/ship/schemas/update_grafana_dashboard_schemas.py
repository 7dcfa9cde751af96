"""Regenerate ``grafana-dashboard-<version>.json``: JSON schemas of Grafana's dashboard model.

Grafana publishes no JSON schema of the classic dashboard JSON, but its npm package ``@grafana/schema``
ships the model as TypeScript types generated from Grafana's own CUE kinds
(``raw/dashboard/x/*types.gen.d.ts``, interface ``Dashboard``). ``ts-json-schema-generator`` turns that
interface into a JSON schema, strict like the types: a misspelt or misplaced field is an error. The
oldest and the newest Grafana the dashboards target are both kept, and a dashboard must satisfy each.

Run it by hand (it needs npm and the network); the tests only read the JSON files it writes::

    .venv/bin/python tests/ship/schemas/update_grafana_dashboard_schemas.py
"""

from __future__ import annotations

import json
import subprocess
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "@grafana/schema"
VERSIONS = ("11.0.0", "13.2.3")
GENERATOR = "ts-json-schema-generator@2.9.0"
TYPE = "Dashboard"


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        subprocess.run(["npm", "install", "--silent", "--no-save", "--prefix", str(work), GENERATOR], check=True,
                       capture_output=True)
        for version in VERSIONS:
            types = _dashboard_types(work, version)
            output = Path(__file__).with_name(f"grafana-dashboard-{version}.json")
            subprocess.run([str(work / "node_modules" / ".bin" / "ts-json-schema-generator"), "--path", str(types),
                            "--type", TYPE, "--out", str(output)], check=True, capture_output=True)
            schema = json.loads(output.read_text(encoding="utf-8"))
            member = types.relative_to(work / version).as_posix()
            document = {
                "$comment": f"The {TYPE} interface of {member} in the npm package {PACKAGE}@{version} (Apache-2.0), "
                            f"as JSON schema by {GENERATOR}. Regenerate with {Path(__file__).name}.",
                **schema,
            }
            output.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
            print(f"wrote {output.name} from {PACKAGE}@{version}")


def _dashboard_types(work: Path, version: str) -> Path:
    """Unpack the package and return its TypeScript declarations of the dashboard model."""
    folder = work / version
    folder.mkdir()
    subprocess.run(["npm", "pack", f"{PACKAGE}@{version}", "--silent"], cwd=folder, check=True, capture_output=True)
    (tarball,) = folder.glob("*.tgz")
    with tarfile.open(tarball) as archive:
        (member,) = [name for name in archive.getnames()
                     if "/raw/dashboard/x/" in name and name.endswith("types.gen.d.ts")]
        archive.extract(member, folder, filter="data")
    return folder / member


if __name__ == "__main__":
    main()
