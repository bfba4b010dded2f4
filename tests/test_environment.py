"""The environment files stay in step: pyproject names every dependency, the lock pins each one
within its range, environment.yml installs the lock, and CI runs the README's test command."""

from __future__ import annotations

import re

import yaml
from packaging.requirements import Requirement

from tests.conftest import ROOT

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions() -> dict[str, list[str]]:
    """Every pinned version of each package (one per group of Python versions)."""
    pins: dict[str, list[str]] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            pin = Requirement(line)
            assert str(pin.specifier).startswith("=="), f"not an exact pin: {line}"
            pins.setdefault(normalise(pin.name), []).append(str(pin.specifier)[2:])
    return pins


def declared() -> list[str]:
    project = pyproject()["project"]
    extras = [r for group in project.get("optional-dependencies", {}).values() for r in group]
    return project["dependencies"] + extras


def declared_requirements() -> list[Requirement]:
    return [Requirement(r) for r in declared()]


def test_every_declared_dependency_is_pinned_inside_its_range():
    pins = locked_versions()
    for requirement in declared_requirements():
        name = normalise(requirement.name)
        assert name in pins, f"{requirement.name} is in pyproject.toml but not in requirements.lock: run `make lock`"
        for version in pins[name]:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"requirements.lock pins {name}=={version}, outside pyproject's {requirement.specifier}: "
                "run `make lock`")


def test_every_dependency_in_pyproject_says_why():
    lines = (ROOT / "pyproject.toml").read_text().splitlines()
    for requirement in declared():
        line = next(l for l in lines if l.strip().startswith(f'"{requirement}"'))
        assert "#" in line and len(line.split("#", 1)[1].strip()) > 10, f"say why {requirement} is needed"


def test_environment_yml_installs_the_lock_and_the_package():
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    assert pip_section == ["-r requirements.lock", "-e ."]
    python = next(d for d in environment["dependencies"] if isinstance(d, str) and d.startswith("python="))
    minimum = pyproject()["project"]["requires-python"].removeprefix(">=")
    assert tuple(map(int, python.split("=")[1].split("."))) >= tuple(map(int, minimum.split(".")))


def test_ci_runs_the_readme_test_command_and_nothing_else():
    readme = (ROOT / "README.md").read_text()
    commands = [l.strip() for l in (ROOT / ".ci" / "run").read_text().splitlines()
                if l.strip() and not l.startswith("#") and not l.startswith(("set ", "cd "))]
    assert commands == ["make test"]
    assert "make test" in readme and "make lab" in readme


def test_makefile_targets_are_thin_wrappers():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("lab", "test", "release", "datasets", "bench", "clean"):
        assert re.search(rf"^{target}:", makefile, re.M), f"Makefile has no `{target}` target"
