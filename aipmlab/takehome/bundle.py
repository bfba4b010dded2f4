"""One take-home bundle per candidate: the release notebooks with the candidate's seed, that seed's
data, a README, and the least of the `aipmlab` package that structure checks and plots need.

What a bundle never holds: grading/ (answer key, rubrics), solutions/, tests/, the dataset
generators (they hold the planted truth), the grader and this take-home package, the secret and
any other candidate's seed. `PACKAGE_FILES` is an allow-list, so a new file stays out until added.
"""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from aipmlab import course, datasets, paths
from aipmlab.takehome import audit
from aipmlab.takehome.seeds import Candidate, TakehomeError, issued_seeds, read_candidates, read_or_create_secret

# The package files a candidate's notebook needs, relative to aipmlab/; exercise and plot files of
# the chosen modules are added by `package_files`.
PACKAGE_FILES = (
    "__init__.py", "lab.py", "course.py", "paths.py", "answer_key.py", "serialize.py", "environment.py", "plots.py",
    "exercises/__init__.py", "exercises/core.py", "exercises/checks.py",
    "datasets/__init__.py", "datasets/family.py", "datasets/ticket_vocabulary.py",
)
# Exact pins from requirements.lock for what a candidate runs: JupyterLab and the notebooks' imports.
CANDIDATE_PACKAGES = ("jupyterlab", "ipykernel", "numpy", "pandas", "scipy", "statsmodels", "matplotlib", "seaborn",
                      "scikit-learn", "threadpoolctl", "cleanlab", "krippendorff")
ZIP_TIMESTAMP = (2024, 1, 1, 0, 0, 0)  # fixed, so the same secret and inputs give byte-identical zips
SEED_LINE = re.compile(r"^seed\s*=\s*\d+.*$", re.MULTILINE)
GENERATOR_IMPORT = re.compile(r"^\s*(?:from|import)\s+aipmlab\.datasets\.(\w+)", re.MULTILINE)
TAKEHOME_METADATA = "takehome"  # notebook.metadata["aipmlab"]["takehome"]: candidate, module, seed


@dataclass(frozen=True)
class Bundle:
    """What `create` made for one candidate."""

    candidate_id: str
    folder: Path
    zip_path: Path


def parse_modules(spec: str) -> tuple[course.Module, ...]:
    """Modules from '00,01' (numbers or slugs), in learning order, each once."""
    names = [name.strip() for name in spec.split(",") if name.strip()]
    if not names:
        raise TakehomeError("Name at least one module, e.g. --modules 00,01.")
    try:
        found = {module.slug: module for module in (course.module(name) for name in names)}
    except KeyError as error:
        raise TakehomeError(str(error.args[0])) from None
    return tuple(sorted(found.values(), key=lambda module: module.number))


def package_files(modules: tuple[course.Module, ...]) -> list[str]:
    """The package files (relative to aipmlab/) a bundle of `modules` holds."""
    files = list(PACKAGE_FILES)
    for module in modules:
        source = (paths.kit_root() / "aipmlab" / "exercises" / f"{module.code_name}.py").read_text(encoding="utf-8")
        generator = next((found for found in GENERATOR_IMPORT.finditer(source)
                          if f"datasets/{found.group(1)}.py" not in PACKAGE_FILES), None)
        if generator:
            raise TakehomeError(f"Module {module.slug} cannot go into a take-home yet: its exercise definitions import "
                                f"the data generator `{generator.group(1)}`, which a bundle must not hold.")
        files.append(f"exercises/{module.code_name}.py")
        plot_file = f"plots_m{module.number:02d}.py"
        if (paths.kit_root() / "aipmlab" / plot_file).exists():
            files.append(plot_file)
    return files


def candidate_requirements() -> str:
    """requirements.txt for a candidate: the lock's exact pins of CANDIDATE_PACKAGES (markers kept)."""
    lock = (paths.kit_root() / "requirements.lock").read_text(encoding="utf-8").splitlines()
    wanted = {name.lower() for name in CANDIDATE_PACKAGES}
    pins = [line for line in lock if line and not line.startswith("#") and line.split("==")[0].strip().lower() in wanted]
    header = "# What the take-home needs, at the versions the course is tested with.\n"
    return header + "\n".join(pins) + "\n"


def takehome_notebook(module: course.Module, candidate_id: str, seed: int) -> nbformat.NotebookNode:
    """The module's release notebook with `seed` written into its parameters cell and its metadata."""
    path = paths.release_dir() / module.slug / module.notebook_name
    notebook = nbformat.read(path, as_version=4)
    parameter_cells = [cell for cell in notebook.cells
                       if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", [])]
    if len(parameter_cells) != 1 or not SEED_LINE.search(parameter_cells[0].source):
        raise TakehomeError(f"{path.name} needs exactly one parameters cell that sets `seed = ...`.")
    parameter_cells[0].source = SEED_LINE.sub(
        f"seed = {seed}  # your data variant for this take-home: keep it as it is", parameter_cells[0].source, count=1)
    notebook.metadata.setdefault("aipmlab", {})[TAKEHOME_METADATA] = {
        "candidate_id": candidate_id, "module": module.slug, "seed": seed}
    return notebook


def candidate_readme(candidate: Candidate, modules: tuple[course.Module, ...], hours: float) -> str:
    """The README a candidate reads first: the time limit, setup, the work, and how to hand in."""
    notebooks = "\n".join(f"- `{m.notebook_name}` — {m.title} (about {m.minutes} minutes of reading and work)"
                          for m in modules)
    return f"""# Take-home for {candidate.name or candidate.candidate_id}

You have **{hours:g} hours** from when you open the first notebook. Work alone; use any documentation
you like. The notebooks are the same kind of work an AI product manager does: look at data, make a
call, and write it down so a team can act on it.

## Set up (once, about five minutes)

You need Python 3.10 or newer. In a terminal, inside this folder:

```bash
python3 -m venv .venv
source .venv/bin/activate          # on Windows: .venv\\Scripts\\activate
pip install -r requirements.txt
jupyter lab
```

## The work

{notebooks}

Open each notebook and run its cells in order. Fill in each exercise where it says `...`, then run
the check cell under it. Here a check only tells you whether your answer has the right *shape*
(the right keys, columns and ranges) or what is missing; it shows no points and does not say
whether your numbers are right. Your answers are judged after you hand them in, on the data you
were given. Written answers are read by people, with a rubric.

Keep the `seed` in each notebook's parameters cell as it is: your data is made for that seed, and
your notebook is graded on it whatever the cell says.

## Hand in

Send back your notebooks, saved, with your answers in them: the `.ipynb` files, named as they are
now, in a zip or a folder called `{candidate.candidate_id}`. Nothing else is needed; any other file
you send is ignored. Your notebooks are run again from the top on our side, so make sure each one
runs from start to finish (Kernel → Restart and Run All).
"""


def build_bundle(candidate: Candidate, seed: int, modules: tuple[course.Module, ...], hours: float,
                 folder: Path) -> None:
    """Write one candidate's bundle into `folder` (which must not exist yet)."""
    package_root = paths.kit_root() / "aipmlab"
    for relative in package_files(modules):
        target = folder / "aipmlab" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(package_root / relative, target)
    tables = sorted({table for module in modules for table in module.tables})
    datasets.write_seed(folder / "datasets", tables, seed)
    for table in tables:
        sheet = paths.datasets_dir() / f"{table}.md"
        if sheet.exists():
            shutil.copyfile(sheet, folder / "datasets" / sheet.name)
    for module in modules:
        nbformat.write(takehome_notebook(module, candidate.candidate_id, seed), folder / module.notebook_name)
        for extra in sorted((paths.release_dir() / module.slug).iterdir()):  # datasheets travel beside the notebook
            if extra.is_file() and extra.suffix == ".md":
                shutil.copyfile(extra, folder / extra.name)
    (folder / "README.md").write_text(candidate_readme(candidate, modules, hours), encoding="utf-8")
    (folder / "requirements.txt").write_text(candidate_requirements(), encoding="utf-8")
    marker = {"kind": "AI PM Lab take-home bundle", "candidate_id": candidate.candidate_id,
              "modules": [module.slug for module in modules], "hours": hours}
    (folder / paths.BUNDLE_MARKER).write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")


def zip_folder(folder: Path, zip_path: Path) -> None:
    """Zip `folder` (its name as the top folder), files sorted and time-stamped alike, so zips are reproducible."""
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(f"{folder.name}/{file.relative_to(folder).as_posix()}", ZIP_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, file.read_bytes())


def create(modules_spec: str, candidates_file: Path, hours: float, secret_file: Path, out: Path) -> list[Bundle]:
    """Make every candidate's bundle (folder and zip) under `out`; creates the secret when it is missing."""
    modules, hours = parse_modules(modules_spec), float(hours)
    if not 0 < hours <= 72:
        raise TakehomeError(f"--hours is the candidate's time limit, between 0 and 72; got {hours:g}.")
    candidates = read_candidates(candidates_file)
    out = out.resolve()
    if secret_file.resolve().is_relative_to(out):
        raise TakehomeError(f"Keep the secret file outside the --out folder {out}: bundles are sent from there.")
    secret, created = read_or_create_secret(secret_file)
    if created:
        print(f"created the secret {secret_file} (readable by you only). Keep it: grading needs it, "
              f"and it never goes into a bundle.")
    seeds = issued_seeds(secret, candidates)
    existing = [c.candidate_id for c in candidates if (out / c.candidate_id).exists() or (out / f"{c.candidate_id}.zip").exists()]
    if existing:
        raise TakehomeError(f"{out} already holds bundles for {', '.join(existing[:3])}; choose a new --out folder "
                            f"(nothing was overwritten).")
    out.mkdir(parents=True, exist_ok=True)
    bundles = [Bundle(c.candidate_id, out / c.candidate_id, out / f"{c.candidate_id}.zip") for c in candidates]
    try:
        for candidate, made in zip(candidates, bundles):
            build_bundle(candidate, seeds[candidate.candidate_id], modules, hours, made.folder)
            zip_folder(made.folder, made.zip_path)
            banned = audit.forbidden(secret, [seed for other, seed in seeds.items() if other != candidate.candidate_id])
            audit.check_bundle(made.folder, banned)
            audit.check_bundle(made.zip_path, banned)
    except BaseException:
        for made in bundles:  # hand out all bundles or none
            shutil.rmtree(made.folder, ignore_errors=True)
            made.zip_path.unlink(missing_ok=True)
        raise
    return bundles
