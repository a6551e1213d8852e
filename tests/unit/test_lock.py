"""requirements.lock pins every dependency with hashes, and agrees with pyproject.toml.

``make`` (the venv), the Dockerfile and CI install from the lock with ``--require-hashes``:
a dependency added to pyproject.toml without ``make lock`` would be missing from the image
and the venv, and one dropped from pyproject.toml would still be installed. No network.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
LOCK = REPO / "requirements.lock"
UV_LOCK = REPO / "requirements-uv.lock"
DIRECT = "# via dateline (pyproject.toml)"


def entries(path: Path) -> dict[str, tuple[Version, list[str], str]]:
    """name -> (version, hashes, the entry's whole text) of a `uv pip compile` output."""
    found: dict[str, tuple[Version, list[str], str]] = {}
    for block in re.split(r"\n(?=\S)", path.read_text(encoding="utf-8")):
        head = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", block)
        if head is None:
            assert block.startswith("#") or not block.strip(), (
                f"{path.name}: not a pinned entry: {block[:120]!r}"
            )
            continue
        name = canonicalize_name(head.group(1))
        assert name not in found, f"{path.name} pins {name} twice"
        found[name] = (Version(head.group(2)), re.findall(r"--hash=sha256:([0-9a-f]{64})", block), block)
    return found


def declared() -> list[Requirement]:
    project = PYPROJECT["project"]
    return [
        Requirement(text) for text in [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    ]


def test_every_locked_package_has_a_hash():
    locked = entries(LOCK)
    assert len(locked) > 50, "the lock holds the whole dependency tree, not just the direct dependencies"
    unhashed = sorted(name for name, (_, hashes, _) in locked.items() if not hashes)
    assert not unhashed, f"run `make lock`: no hash for {unhashed}"


def test_every_dependency_of_pyproject_is_locked_at_a_version_it_allows():
    locked = entries(LOCK)
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        assert name in locked, (
            f"{requirement} is in pyproject.toml but not in requirements.lock: run `make lock`"
        )
        version, _, _ = locked[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements.lock pins {name}=={version}, outside pyproject.toml's {requirement}: run `make lock`"
        )
    assert "redis" in locked  # celery[redis]: the extra's packages are locked too


def test_the_lock_holds_no_direct_dependency_that_pyproject_dropped():
    direct = {
        name
        for name, (_, _, text) in entries(LOCK).items()
        if DIRECT in text or re.search(r"^\s+#\s+dateline \(pyproject\.toml\)$", text, re.MULTILINE)
    }
    assert direct == {canonicalize_name(r.name) for r in declared()}


def test_the_test_tools_are_in_the_dev_extra():
    dev = {
        canonicalize_name(Requirement(text).name)
        for text in PYPROJECT["project"]["optional-dependencies"]["dev"]
    }
    assert {"hypothesis", "pytest-xdist", "uv"} <= dev


def test_uv_is_bootstrapped_at_the_locked_version_with_hashes():
    locked, bootstrap = entries(LOCK), entries(UV_LOCK)
    assert set(bootstrap) == {"uv"}
    assert bootstrap["uv"][0] == locked["uv"][0]
    assert bootstrap["uv"][1] and set(bootstrap["uv"][1]) <= set(locked["uv"][1])


def test_make_installs_from_the_lock_with_hashes():
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    stamp = re.search(r"^\$\(STAMP\):(.*)\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert stamp is not None
    prerequisites, recipe = stamp.group(1), stamp.group(2)
    assert "$(LOCK)" in prerequisites and "$(UV_LOCK)" in prerequisites
    assert "--require-hashes -r $(LOCK)" in recipe and "--require-hashes --no-deps -r $(UV_LOCK)" in recipe
    # Dateline itself comes last and brings no dependency the lock did not pin.
    assert re.search(r"--no-deps -e \.$", recipe.strip().splitlines()[-2])
    assert "pip install --quiet -e '.[dev]'" not in makefile
    assert re.search(r"^lock:", makefile, re.MULTILINE)


def test_the_image_installs_from_the_lock_with_hashes():
    dockerfile = (REPO / "deploy/Dockerfile").read_text(encoding="utf-8")
    assert "COPY requirements.lock requirements-uv.lock ./" in dockerfile
    assert "--require-hashes --no-deps -r requirements-uv.lock" in dockerfile
    assert "--require-hashes -r requirements.lock" in dockerfile
    installs = re.findall(r"(?:pip|uv pip) install[^\n]*", dockerfile)
    assert all("--require-hashes" in line or "--no-deps ." in line for line in installs), installs
