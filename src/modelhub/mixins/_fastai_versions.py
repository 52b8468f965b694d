"""Versions for fastai pickles: what the installed stack is, what a repo's ``pyproject.toml`` records, and whether
the two are compatible.

A fastai ``model.pkl`` is a pickle of a whole ``Learner``; it unpickles only with a fastai/fastcore close enough to
the ones that wrote it. So every save records the Python, fastai and fastcore versions in ``pyproject.toml`` and
every load checks them before unpickling.

The file keeps the layout older ``huggingface_hub`` releases wrote (``"fastai=2.8.12"`` with a single ``=`` in
``[build-system] requires``), so repos written by either tool load with the other. Reading is more tolerant:
each entry is parsed as a PEP 508 requirement after turning the legacy single ``=`` into ``==``, so any PEP 440
specifier works (``fastai>=2.7,<3``, ``fastai~=2.8.0``...). Versions are compared with ``packaging``, never as
strings.

No fastai import happens here; versions of installed packages come from their distribution metadata.
"""

from __future__ import annotations

import logging
import platform
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

PYPROJECT_NAME = "pyproject.toml"
# Oldest versions whose Learner pickles this loader supports (fastai 2.4 changed the pickled Learner layout).
FASTAI_MIN_VERSION = "2.4"
FASTCORE_MIN_VERSION = "1.3.27"
# fastai is installed without its dependencies (see docs/fastai.md): a bare `pip install fastai` pulls CUDA torch.
INSTALL_HINT = (
    "Install it without replacing your torch build: `pip install --no-deps fastai` then "
    "`pip install fastcore fasttransform fastprogress fastdownload 'plum-dispatch<2.10' pandas matplotlib "
    "scikit-learn scipy pillow pyyaml requests packaging cloudpickle` (see docs/fastai.md)."
)

# `name` then an optional `[extras]`, then a single `=` that is not part of `==`/`===`: the legacy pin layout.
_LEGACY_PIN = re.compile(r"^(\s*[A-Za-z0-9][A-Za-z0-9._-]*\s*(?:\[[^\]]*\])?\s*)=(?!=)")


def installed_version(package: str) -> str | None:
    """Version of an installed distribution, or None if it is not installed."""
    from importlib import metadata  # ~30 ms: only when a fastai function runs

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def check_installed_versions(
    fastai_min_version: str = FASTAI_MIN_VERSION, fastcore_min_version: str = FASTCORE_MIN_VERSION
) -> tuple[str, str]:
    """Return the installed (fastai, fastcore) versions; ImportError if either is missing or too old."""
    from packaging.version import InvalidVersion, Version

    found: list[str] = []
    for package, minimum in (("fastai", fastai_min_version), ("fastcore", fastcore_min_version)):
        current = installed_version(package)
        if current is None:
            raise ImportError(
                f"{package} is not installed; saving and loading fastai learners needs "
                f"fastai>={fastai_min_version} and fastcore>={fastcore_min_version}. {INSTALL_HINT}"
            )
        try:
            too_old = Version(current) < Version(minimum)
        except InvalidVersion:  # a local build with a non-PEP 440 version: let fastai itself decide
            logger.warning(
                "Cannot compare the installed %s version %r with %s; not checking it.",
                package,
                current,
                minimum,
            )
            too_old = False
        if too_old:
            raise ImportError(
                f"{package} {current} is installed, but saving and loading fastai learners needs "
                f"{package}>={minimum}. Upgrade it (`pip install --no-deps '{package}>={minimum}'`)."
            )
        found.append(current)
    return found[0], found[1]


def pyproject_text(
    python_version: str | None = None, fastai_version: str = "", fastcore_version: str = ""
) -> str:
    """The ``pyproject.toml`` recording the versions that saved a learner (layout of older huggingface_hub)."""
    python_version = python_version or platform.python_version()
    requires = [
        "setuptools>=40.8.0",
        "wheel",
        f"python={python_version}",
        f"fastai={fastai_version}",
        f"fastcore={fastcore_version}",
    ]
    quoted = ", ".join(f'"{item}"' for item in requires)
    return (
        "# Versions that saved model.pkl, checked when it is loaded (written by modelhub).\n"
        "[build-system]\n"
        f"requires = [{quoted}]\n"
        'build-backend = "setuptools.build_meta:__legacy__"\n'
    )


def _load_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError as err:
            raise ImportError(
                "Reading pyproject.toml on Python 3.10 needs 'tomli' (`pip install tomli`); 3.11+ has tomllib."
            ) from err
    with path.open("rb") as f:
        return tomllib.load(f)


@dataclass(frozen=True)
class RecordedRequirement:
    """One package entry of ``[build-system] requires``: the text as written and its parsed specifier."""

    text: str
    specifier: Any  # packaging.specifiers.SpecifierSet; empty when no version was recorded

    @property
    def pinned_version(self) -> str | None:
        """The version when the entry pins one exactly (``fastai=2.8.12`` / ``fastai==2.8.12``), else None."""
        specs = list(self.specifier)
        if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
            return specs[0].version
        return None

    def describe(self) -> str:
        pinned = self.pinned_version
        return pinned if pinned is not None else (str(self.specifier) or "any version")


def parse_requirement(text: str) -> tuple[str, RecordedRequirement] | None:
    """Parse one ``requires`` entry into (normalised package name, requirement); None if unreadable."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    if not isinstance(text, str):
        return None
    normalised = _LEGACY_PIN.sub(r"\1==", text, count=1)
    try:
        req = Requirement(normalised)
    except InvalidRequirement:
        return None
    return canonicalize_name(req.name), RecordedRequirement(text=text, specifier=req.specifier)


def read_recorded_versions(folder: str | Path) -> dict[str, RecordedRequirement] | None:
    """The requirements recorded in ``folder/pyproject.toml`` by package name, or None (with a warning) if the
    file, its ``[build-system]`` table or its ``requires`` list is missing or unreadable."""
    path = Path(folder) / PYPROJECT_NAME
    why_missing = (
        "it records the fastai and fastcore versions that saved the learner, so that they can be checked against "
        "yours before unpickling. Loading without the check; if unpickling fails, compare the versions by hand."
    )
    if not path.is_file():
        logger.warning("There is no %s beside model.pkl in %s: %s", PYPROJECT_NAME, folder, why_missing)
        return None
    try:
        data = _load_toml(path)
    except (OSError, ValueError) as err:  # tomllib.TOMLDecodeError is a ValueError
        logger.warning("Cannot read %s (%s): %s", path, err, why_missing)
        return None
    build_system = data.get("build-system")
    if not isinstance(build_system, dict):
        logger.warning("%s has no [build-system] table: %s", path, why_missing)
        return None
    requires = build_system.get("requires")
    if not isinstance(requires, list):
        logger.warning("%s has no 'requires' list in [build-system]: %s", path, why_missing)
        return None
    found: dict[str, RecordedRequirement] = {}
    for entry in requires:
        parsed = parse_requirement(entry)
        if parsed is None:
            logger.warning("Ignoring the unreadable entry %r in %s (not a PEP 508 requirement).", entry, path)
            continue
        name, req = parsed
        found.setdefault(name, req)
    return found


def may_be_at_least(specifier: Any, minimum: str) -> bool:
    """Whether some version >= ``minimum`` satisfies ``specifier`` (an empty specifier satisfies all).

    The versions a specifier allows form intervals whose ends are the versions it names, so if some version
    >= minimum is allowed, in practice one of these candidates is: the minimum itself, a named version at or above
    it, or one just past a named version (last release part bumped, or one more release part).
    """
    from packaging.version import InvalidVersion, Version

    floor = Version(minimum)
    candidates = {floor}
    for spec in specifier:
        raw = spec.version.removesuffix(".*")
        try:
            named = Version(raw)
        except InvalidVersion:
            continue
        release = list(named.release)
        bumped = [*release[:-1], release[-1] + 1]
        for candidate in (
            named,
            Version(".".join(map(str, bumped))),
            Version(".".join(map(str, [*release, 1]))),
        ):
            if candidate >= floor:
                candidates.add(candidate)
    return any(specifier.contains(c, prereleases=True) for c in candidates)


def check_recorded_versions(
    folder: str | Path,
    *,
    source: str,
    fastai_min_version: str = FASTAI_MIN_VERSION,
    fastcore_min_version: str = FASTCORE_MIN_VERSION,
) -> dict[str, RecordedRequirement] | None:
    """Refuse (ImportError) a learner whose pyproject.toml says it was saved with a fastai or fastcore older than
    the minimum; warn when nothing is recorded, or when the installed version is older than the saved one.

    ``source`` names where the files came from, for the messages (a repo id and revision, or a directory).
    """
    from packaging.version import InvalidVersion, Version

    recorded = read_recorded_versions(folder)
    if recorded is None:
        return None
    for package, minimum in (("fastai", fastai_min_version), ("fastcore", fastcore_min_version)):
        req = recorded.get(package)
        if req is None:
            logger.warning(
                "The pyproject.toml of %s records no %s version; cannot check that the learner unpickles with "
                "yours. Loading without the check.",
                source,
                package,
            )
            continue
        if not may_be_at_least(req.specifier, minimum):
            raise ImportError(
                f"The learner in {source} was saved with {package} {req.describe()} (pyproject.toml: "
                f"{req.text!r}), older than {package} {minimum}, the oldest whose pickles can be loaded here. "
                f"Load it with the {package} version it was saved with and export it again with "
                f"{package}>={minimum}."
            )
        pinned, current = req.pinned_version, installed_version(package)
        if pinned is not None and current is not None:
            try:
                older_here = Version(current) < Version(pinned)
            except InvalidVersion:
                older_here = False
            if older_here:
                logger.warning(
                    "The learner in %s was saved with %s %s but %s %s is installed; unpickling may fail. "
                    "Upgrade %s if it does.",
                    source,
                    package,
                    pinned,
                    package,
                    current,
                    package,
                )
    return recorded
