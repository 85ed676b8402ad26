"""Print the oldest versions pyproject.toml allows, as pins: the lower bound of every direct
dependency (base, cpu, train, export, dev) with >= turned into ==; with --build, those of
build-system.requires instead. .ci/run installs them, builds the project with that setuptools
and runs the suite, so a bound that no longer works fails CI instead of a user's install."""
from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
project = pyproject["project"]
extras = project["optional-dependencies"]
if sys.argv[1:] == ["--build"]:
    requirements = pyproject["build-system"]["requires"]
else:
    requirements = [*project["dependencies"],
                    *(r for name in ("cpu", "train", "export", "dev") for r in extras[name])]
pins = []
for requirement in requirements:
    if requirement.startswith(project["name"] + "["):
        continue  # the project's own extras, listed above
    m = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9][0-9A-Za-z.]*)", requirement)
    if not m:
        sys.exit(f"{requirement!r}: every dependency needs a plain lower bound (name>=version)")
    pins.append(f"{m.group(1)}=={m.group(2)}")
print(" ".join(dict.fromkeys(pins)))
