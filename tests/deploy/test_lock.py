"""requirements.lock, the image's hash-pinned runtime dependencies: it covers every
[project].dependencies entry (extras included) at a version the specifier allows, every
requirement carries a sha256 hash, nothing is pinned twice, and the project itself is left
out. Each check is also run on a broken lock to show that it notices. No network."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"
GPU_LOCK = ROOT / "requirements-gpu.lock"  # the GPU image's: the same pins plus the gpu extra
PYPROJECT = ROOT / "pyproject.toml"

# The Dockerfile's base image: python:3.11.10-slim-bookworm on x86-64.
TARGET_ENV = {
    **default_environment(),
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "python_version": "3.11",
    "python_full_version": "3.11.10",
    "implementation_version": "3.11.10",
    "os_name": "posix",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
}

HASH = re.compile(r"--hash=sha256:([0-9a-fA-F]*)")
COMMENT = re.compile(r"(^|\s)#.*$")


@dataclass(frozen=True)
class Pin:
    line: str
    name: str  # canonical; "" when the line is not a named requirement
    version: str | None  # the exact `==` version, None when not pinned that way
    hashes: tuple[str, ...]


def logical_lines(text: str) -> list[str]:
    """The lock's requirement lines, comments stripped and `\\` continuations joined."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = COMMENT.sub("", raw).rstrip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        pending += line
        if pending.strip():
            lines.append(" ".join(pending.split()))
        pending = ""
    if pending.strip():
        lines.append(" ".join(pending.split()))
    return lines


def parse_lock(text: str) -> list[Pin]:
    pins = []
    for line in logical_lines(text):
        spec = re.split(r"(?:^|\s)--?[a-zA-Z]", line, maxsplit=1)[0].strip()
        hashes = tuple(HASH.findall(line))
        try:
            req = Requirement(spec)
        except InvalidRequirement:
            pins.append(Pin(line, "", None, hashes))
            continue
        specs = list(req.specifier)
        exact = (
            len(specs) == 1 and specs[0].operator == "==" and "*" not in specs[0].version
        )
        pins.append(Pin(line, canonicalize_name(req.name), specs[0].version if exact else None,
                        hashes))
    return pins


def project() -> dict:
    return tomllib.loads(PYPROJECT.read_text())["project"]


def extra_requirements(req: Requirement) -> set[str]:
    """Canonical names that `req`'s extras add, read from the installed distribution."""
    if not req.extras:
        return set()
    try:
        requires = metadata.requires(req.name) or []
    except metadata.PackageNotFoundError:
        pytest.fail(f"{req.name} is not installed here: cannot tell what {req} pulls in")
    names = set()
    for extra in req.extras:
        for item in map(Requirement, requires):
            if item.marker and item.marker.evaluate({**TARGET_ENV, "extra": extra}) \
                    and not item.marker.evaluate({**TARGET_ENV, "extra": ""}):
                names.add(canonicalize_name(item.name))
    return names


def dependency_problems(dependencies: list[str], pins: list[Pin]) -> list[str]:
    locked = {p.name: p.version for p in pins if p.name}
    problems = []
    for entry in dependencies:
        req = Requirement(entry)
        if req.marker and not req.marker.evaluate(TARGET_ENV):
            continue
        name = canonicalize_name(req.name)
        version = locked.get(name, "")
        if name not in locked:
            problems.append(f"{req.name}: missing from the lock")
        elif version is None:
            problems.append(f"{req.name}: not pinned with ==")
        else:
            try:
                ok = req.specifier.contains(Version(version), prereleases=True)
            except InvalidVersion:
                ok = False
            if not ok:
                problems.append(f"{req.name}=={version} does not satisfy '{req.specifier}'")
        for extra_name in sorted(extra_requirements(req)):
            if locked.get(extra_name) is None:
                problems.append(f"{extra_name} (from {entry}): missing or unpinned")
    return problems


def hash_problems(pins: list[Pin]) -> list[str]:
    problems = []
    for pin in pins:
        if not pin.name or pin.version is None:
            problems.append(f"not a `name==version` requirement: {pin.line}")
        if not pin.hashes:
            problems.append(f"no --hash=sha256: {pin.line}")
        problems += [f"malformed sha256 {h!r}: {pin.line}" for h in pin.hashes
                     if not re.fullmatch(r"[0-9a-fA-F]{64}", h)]
    return problems


def duplicate_problems(pins: list[Pin]) -> list[str]:
    seen: set[str] = set()
    problems = []
    for pin in pins:
        if pin.name in seen:
            problems.append(f"{pin.name} pinned twice")
        seen.add(pin.name)
    return problems


def self_problems(project_name: str, text: str, pins: list[Pin]) -> list[str]:
    me = canonicalize_name(project_name)
    problems = [f"the project is pinned: {p.line}" for p in pins if p.name == me]
    problems += [f"a local or editable install: {line}" for line in logical_lines(text)
                 if re.match(r"(-e\b|--editable\b|\.|/|file:)", line)]
    return problems


@pytest.fixture(scope="module", params=[LOCK, GPU_LOCK], ids=lambda path: path.name)
def lock_text(request: pytest.FixtureRequest) -> str:
    path: Path = request.param
    assert path.is_file(), f"{path.name} is missing: run `make lock`"
    return path.read_text()


@pytest.fixture(scope="module")
def pins(lock_text: str) -> list[Pin]:
    pins = parse_lock(lock_text)
    assert len(pins) >= len(project()["dependencies"]), "the lock parsed to too few entries"
    return pins


def test_lock_says_how_to_regenerate_it(lock_text):
    assert "make lock" in "\n".join(lock_text.splitlines()[:5])


def test_every_runtime_dependency_is_pinned_within_its_specifier(pins):
    assert dependency_problems(project()["dependencies"], pins) == []


def test_every_requirement_has_a_sha256_hash(pins):
    assert hash_problems(pins) == []


def test_no_package_is_pinned_twice(pins):
    assert duplicate_problems(pins) == []


def test_the_project_itself_is_not_locked(lock_text, pins):
    assert self_problems(project()["name"], lock_text, pins) == []


def test_gpu_lock_is_the_runtime_lock_plus_the_gpu_extra():
    runtime = {p.name: p.version for p in parse_lock(LOCK.read_text()) if p.name}
    gpu = {p.name: p.version for p in parse_lock(GPU_LOCK.read_text()) if p.name}
    assert {name: gpu.get(name) for name in runtime} == runtime  # the images differ only by GPU
    for entry in project()["optional-dependencies"]["gpu"]:
        req = Requirement(entry)  # its extra (cu12) is not installed here to read: see below
        assert req.specifier.contains(gpu[canonicalize_name(req.name)]), entry
    assert "numba-cuda" in set(gpu) - set(runtime)
    assert {"nvidia-cuda-nvrtc-cu12", "nvidia-nvjitlink-cu12"} <= set(gpu)  # what cu12 adds


# The same checks on small broken locks: each must report the fault.

H = "--hash=sha256:" + "ab" * 32
GOOD = f"""# header: make lock
numpy==2.1.0 \\
    {H} \\
    {H.replace('ab', 'cd')}
    # via xlsim
psycopg==3.2.0 \\
    {H}
psycopg-binary==3.2.0 \\
    {H}
"""


def test_checks_pass_on_a_good_sample():
    pins = parse_lock(GOOD)
    assert [(p.name, p.version, len(p.hashes)) for p in pins] == [
        ("numpy", "2.1.0", 2), ("psycopg", "3.2.0", 1), ("psycopg-binary", "3.2.0", 1)]
    assert hash_problems(pins) == duplicate_problems(pins) == []
    assert self_problems("xlsim", GOOD, pins) == []
    assert dependency_problems(["NumPy>=2.0", "psycopg>=3.1"], pins) == []


@pytest.mark.parametrize("deps, lock", [
    (["scipy>=1.13"], GOOD),                                     # missing
    (["numpy>=2.2"], GOOD),                                      # outside the specifier
    (["numpy>=2.0"], GOOD.replace("numpy==2.1.0", "numpy>=2.1.0")),  # not pinned
    (["psycopg[binary]>=3.1"], GOOD.replace("psycopg-binary==3.2.0", "other==1")),  # extra
])
def test_dependency_check_notices(deps, lock):
    if any("[" in d for d in deps):
        pytest.importorskip("psycopg")
    assert dependency_problems(deps, parse_lock(lock))


@pytest.mark.parametrize("lock", [
    GOOD.replace(f"psycopg==3.2.0 \\\n    {H}\n", "psycopg==3.2.0\n"),  # no hash at all
    GOOD.replace("ab" * 32, "ab" * 10),                               # truncated hash
    GOOD + "redis>=5 \\\n    " + H + "\n",                            # not pinned
])
def test_hash_check_notices(lock):
    assert hash_problems(parse_lock(lock))


def test_duplicate_check_notices():
    assert duplicate_problems(parse_lock(GOOD + f"NumPy==2.2.0 \\\n    {H}\n"))


@pytest.mark.parametrize("extra", [f"xlsim==0.1.0 \\\n    {H}\n", "-e .\n", "./\n",
                                   "file:///work/main\n"])
def test_self_check_notices(extra):
    text = GOOD + extra
    assert self_problems("xlsim", text, parse_lock(text))
