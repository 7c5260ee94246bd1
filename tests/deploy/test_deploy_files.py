"""The deployment files, checked statically (no Docker engine, no network): Dockerfile,
.dockerignore, docker-compose.yml, .env.example and .gitignore.

Each property is a ``check_*`` function of the parsed file, called on the real file by its test;
``test_check_catches`` calls some of them on a broken copy to show that they notice.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import posixpath
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from db.config import _VARIABLES, Settings
from services.logs import log_format

ROOT = Path(__file__).resolve().parents[2]

# The code that runs in the image, and so what the scans below read.
APP_SOURCES = ("app.py", "pages", "ui", "services", "db", "engine")
# What the runtime stage must COPY whatever the import scan finds (.streamlit holds config.toml).
RUNTIME_PATHS = ("app.py", "pages", "ui", "services", "db", "engine", ".streamlit")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|COOKIE_KEY")
SECRET_KEY = re.compile(r"PASSWORD|SECRET|TOKEN|KEY")
NEVER_IN_CONTEXT = (".env", "data", ".venv", ".git")


def _read(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


# --- Dockerfile --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


@dataclass(frozen=True)
class Stage:
    image: str  # the FROM image with global ARG defaults substituted
    alias: str | None
    instructions: tuple[Instruction, ...]  # those after its FROM


@dataclass(frozen=True)
class Dockerfile:
    instructions: tuple[Instruction, ...]
    global_args: dict[str, str]
    stages: tuple[Stage, ...]

    @property
    def runtime(self) -> Stage:
        return self.stages[-1]


@dataclass(frozen=True)
class Copy:
    sources: tuple[str, ...]
    dest: str
    from_stage: str | None


def _substitute(text: str, args: dict[str, str]) -> str:
    def value(m: re.Match[str]) -> str:
        name = m["braced"] or m["bare"]
        return args.get(name, m["default"] or "")

    return re.sub(r"\$\{(?P<braced>\w+)(?::?-(?P<default>[^}]*))?\}|\$(?P<bare>\w+)", value, text)


def _arg_pairs(args: str) -> list[tuple[str, str | None]]:
    """``ARG A=1 B`` -> [("A", "1"), ("B", None)]."""
    return [(tok.partition("=")[0], tok.partition("=")[2] if "=" in tok else None)
            for tok in shlex.split(args)]


def env_pairs(args: str) -> list[tuple[str, str]]:
    """``ENV A=1 B=2`` or the legacy ``ENV A 1`` -> [(name, value)]."""
    tokens = shlex.split(args)
    if tokens and "=" not in tokens[0]:
        return [(tokens[0], " ".join(tokens[1:]))]
    return [(tok.partition("=")[0], tok.partition("=")[2]) for tok in tokens]


def parse_dockerfile(text: str) -> Dockerfile:
    """Instructions with backslash continuations joined and comment lines dropped (also those
    inside a continuation, as Docker does), split into stages."""
    instructions: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).strip().partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip()))
        pending = ""
    if pending.strip():
        keyword, _, args = pending.strip().partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip()))

    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    current: list[Instruction] = []
    header: tuple[str, str | None] | None = None
    for ins in instructions:
        if ins.keyword == "FROM":
            if header is not None:
                stages.append(Stage(*header, tuple(current)))
            tokens = [t for t in ins.args.split() if not t.startswith("--")]
            alias = tokens[2] if len(tokens) >= 3 and tokens[1].upper() == "AS" else None
            header, current = (_substitute(tokens[0], global_args), alias), []
        elif header is None:
            if ins.keyword == "ARG":
                global_args.update({k: v or "" for k, v in _arg_pairs(ins.args)})
        else:
            current.append(ins)
    if header is not None:
        stages.append(Stage(*header, tuple(current)))
    return Dockerfile(tuple(instructions), global_args, tuple(stages))


def parse_copy(ins: Instruction) -> Copy:
    tokens = shlex.split(ins.args)
    options = [t for t in tokens if t.startswith("--")]
    rest = [t for t in tokens if not t.startswith("--")]
    if rest and rest[0].startswith("["):
        rest = json.loads(" ".join(rest))
    from_stage = next((o.partition("=")[2] for o in options if o.startswith("--from=")), None)
    return Copy(tuple(rest[:-1]), rest[-1], from_stage)


def _clean(path: str) -> str:
    return posixpath.normpath(path).lstrip("/") if path not in ("", ".") else "."


def runtime_layout(df: Dockerfile) -> tuple[dict[str, str], str]:
    """Where the runtime stage puts each source it COPYs from the build context (absolute path of
    that file or directory in the image), and the WORKDIR its CMD runs in."""
    workdir = "/"
    layout: dict[str, str] = {}
    for ins in df.runtime.instructions:
        if ins.keyword == "WORKDIR":
            workdir = posixpath.normpath(posixpath.join(workdir, ins.args))
        elif ins.keyword == "COPY":
            copy = parse_copy(ins)
            if copy.from_stage is not None:
                continue
            dest = posixpath.join(workdir, copy.dest)
            into_dir = copy.dest.endswith("/") or copy.dest in (".", "./") or len(copy.sources) > 1
            for src in copy.sources:
                source = _clean(src)
                is_dir = (ROOT / source).is_dir()
                if into_dir and not is_dir:
                    target = posixpath.join(dest, posixpath.basename(source))
                else:  # a directory's *contents* land at dest
                    target = dest
                layout[source] = posixpath.normpath(target)
    return layout, workdir


def check_multi_stage(df: Dockerfile) -> None:
    assert len(df.stages) >= 2, "the Dockerfile should have a build stage and a runtime stage"
    assert df.stages[0].alias == "build", "the first stage should be named: FROM ... AS build"
    copies = [parse_copy(i) for i in df.runtime.instructions if i.keyword == "COPY"]
    assert any(c.from_stage == "build" and "/opt/venv" in c.sources for c in copies), \
        "the runtime stage should COPY --from=build /opt/venv"
    build_only = {"gcc", "build-essential", "pip install"}
    runtime_runs = " ".join(i.args for i in df.runtime.instructions if i.keyword == "RUN")
    assert not [w for w in build_only if w in runtime_runs], \
        "the runtime stage should not install packages; the build stage does"


def check_base_image(df: Dockerfile) -> None:
    aliases = {s.alias for s in df.stages if s.alias}
    bases = [s.image for s in df.stages if s.image not in aliases]
    assert bases
    for image in bases:
        assert re.fullmatch(r"python:3\.\d+\.\d+-slim(-[a-z]+)?", image), \
            f"base image {image!r} should be python:3.X.Y-slim[-distro]"
        assert "latest" not in image
    # The venv is copied from the build stage: its interpreter must be the runtime's.
    assert df.stages[0].image == df.runtime.image, "build and runtime stages should share a base"


def check_locked_dependencies(df: Dockerfile) -> None:
    build = df.stages[0]
    runs = [i.args for i in build.instructions if i.keyword == "RUN"]
    assert any("--require-hashes" in r and "requirements.lock" in r for r in runs), \
        "pip should install requirements.lock with --require-hashes"
    copies = [parse_copy(i) for i in build.instructions if i.keyword == "COPY"]
    assert any("requirements.lock" in (_clean(s) for s in c.sources) for c in copies), \
        "requirements.lock should be COPY'd into the build stage"


def check_non_root_user(df: Dockerfile) -> None:
    ins = df.runtime.instructions
    keywords = [i.keyword for i in ins]
    assert "USER" in keywords, "the runtime stage should switch to a non-root USER"
    assert "CMD" in keywords
    last_user = max(n for n, k in enumerate(keywords) if k == "USER")
    assert last_user < keywords.index("CMD"), "USER should come before CMD"
    user = ins[last_user].args.split(":")[0].strip()
    assert user not in ("root", "0", ""), f"the image should not run as {user!r}"
    if not user.isdigit():
        runs = " ".join(i.args for i in ins[:last_user] if i.keyword == "RUN")
        assert re.search(rf"(useradd|adduser)\b.*\b{re.escape(user)}\b", runs), \
            f"user {user!r} should be created in the runtime stage"


def check_healthcheck(df: Dockerfile) -> None:
    checks = [i.args for i in df.runtime.instructions if i.keyword == "HEALTHCHECK"]
    assert checks, "the runtime stage should have a HEALTHCHECK"
    tokens = checks[-1].split()
    assert "CMD" in tokens, "HEALTHCHECK NONE disables the check"
    command = " ".join(tokens[tokens.index("CMD") + 1:])
    assert "services.health" in command


def check_cmd(df: Dockerfile) -> None:
    cmds = [i.args for i in df.runtime.instructions if i.keyword == "CMD"]
    assert cmds, "the runtime stage should have a CMD"
    try:  # exec form: SIGTERM reaches Python, no shell in between
        cmd = json.loads(cmds[-1])
    except ValueError:
        raise AssertionError(f"CMD should be a JSON array (exec form): {cmds[-1]}") from None
    assert isinstance(cmd, list) and all(isinstance(a, str) for a in cmd)
    assert "-m" in cmd and cmd[cmd.index("-m") + 1] == "services.serve"
    assert not any(i.keyword == "ENTRYPOINT" for i in df.instructions)


def check_no_baked_secrets(df: Dockerfile) -> None:
    for ins in df.instructions:
        if ins.keyword == "ARG":
            names = [name for name, _ in _arg_pairs(ins.args)]
        elif ins.keyword == "ENV":
            names = [name for name, _ in env_pairs(ins.args)]
        else:
            names = []
        for name in names:
            assert not SECRET_NAME.search(name.upper()), f"{ins.keyword} {name} bakes in a secret"
        if ins.keyword in ("COPY", "ADD"):
            for src in parse_copy(ins).sources:
                base = posixpath.basename(_clean(src))
                assert not (base.startswith(".env") and base != ".env.example"), \
                    f"{ins.keyword} copies {src}"


@cache
def _local_import_roots() -> frozenset[str]:
    """Top-level names imported anywhere in the app's code (lazy imports in functions too)
    that are directories or modules of this repository."""
    roots: set[str] = set()
    for entry in APP_SOURCES:
        path = ROOT / entry
        for file in [path] if path.is_file() else sorted(path.rglob("*.py")):
            tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    roots.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    roots.add(node.module.split(".")[0])
    return frozenset(r for r in roots
                     if (ROOT / f"{r}.py").is_file()
                     or ((ROOT / r).is_dir() and any((ROOT / r).rglob("*.py"))))


def check_runtime_copies(df: Dockerfile, required: set[str] | frozenset[str]) -> None:
    layout, workdir = runtime_layout(df)
    for name in sorted(required):
        assert name in layout, f"the runtime stage does not COPY {name}"
        assert layout[name] == posixpath.join(workdir, name), \
            f"{name} lands at {layout[name]}, not beside the CMD's working directory {workdir}"


def test_dockerfile_is_multi_stage() -> None:
    check_multi_stage(parse_dockerfile(_read("Dockerfile")))


def test_dockerfile_base_image_is_pinned_slim_python() -> None:
    check_base_image(parse_dockerfile(_read("Dockerfile")))


def test_dockerfile_installs_the_hashed_lock() -> None:
    check_locked_dependencies(parse_dockerfile(_read("Dockerfile")))


def test_dockerfile_runs_as_non_root() -> None:
    check_non_root_user(parse_dockerfile(_read("Dockerfile")))


def test_dockerfile_healthcheck_runs_services_health() -> None:
    check_healthcheck(parse_dockerfile(_read("Dockerfile")))
    assert "/_stcore/health" in _read("services/health.py"), \
        "services.health should ask Streamlit's own health endpoint"


def test_dockerfile_cmd_is_exec_form_serve() -> None:
    check_cmd(parse_dockerfile(_read("Dockerfile")))


def test_dockerfile_bakes_in_no_secrets() -> None:
    check_no_baked_secrets(parse_dockerfile(_read("Dockerfile")))


def test_dockerfile_copies_every_runtime_path() -> None:
    check_runtime_copies(parse_dockerfile(_read("Dockerfile")), set(RUNTIME_PATHS))


def test_dockerfile_copies_every_locally_imported_package() -> None:
    roots = _local_import_roots()
    # The scan must see the packages the app is known to import, or it proves nothing.
    assert {"ui", "services", "db", "engine"} <= roots, roots
    check_runtime_copies(parse_dockerfile(_read("Dockerfile")), roots)


# --- .dockerignore -----------------------------------------------------------------------------

@dataclass(frozen=True)
class IgnorePattern:
    negated: bool
    pattern: str  # cleaned as Docker cleans it: no leading "/" or "./", no trailing "/"
    regex: re.Pattern[str]


def _glob_regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        else:
            c = pattern[i]
            out += "[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c)
            i += 1
    return re.compile(out + r"\Z")


def parse_dockerignore(text: str) -> list[IgnorePattern]:
    patterns = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = _clean(line[1:].strip() if negated else line)
        patterns.append(IgnorePattern(negated, pattern, _glob_regex(pattern)))
    return patterns


def is_ignored(path: str, patterns: list[IgnorePattern]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = _clean(path).split("/")
    candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    excluded = False
    for p in patterns:
        if any(p.regex.match(c) for c in candidates):
            excluded = not p.negated
    return excluded


def check_dockerignore(df: Dockerfile, patterns: list[IgnorePattern]) -> None:
    assert patterns and patterns[0] == IgnorePattern(False, "*", _glob_regex("*")), \
        ".dockerignore should be an allow-list starting with *"
    reincluded = {p.pattern for p in patterns if p.negated}
    sources = {_clean(src) for stage in df.stages for ins in stage.instructions
               if ins.keyword in ("COPY", "ADD")
               for copy in [parse_copy(ins)] if copy.from_stage is None for src in copy.sources}
    assert sources
    for src in sorted(sources):
        assert src in reincluded, f".dockerignore should re-include !{src}"
        assert not is_ignored(src, patterns), f"{src} is excluded from the build context"
        path = ROOT / src
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            rel = file.relative_to(ROOT).as_posix()
            if file.is_file() and "__pycache__" not in rel and file.suffix != ".pyc":
                assert not is_ignored(rel, patterns), f"{rel} is excluded from the build context"
    for name in NEVER_IN_CONTEXT:
        assert not any(p.negated and p.regex.match(name) for p in patterns), \
            f".dockerignore re-includes {name}"
        assert is_ignored(name, patterns) and is_ignored(f"{name}/anything", patterns), \
            f"{name} would reach the build context"


def test_dockerignore_admits_only_what_is_copied() -> None:
    check_dockerignore(parse_dockerfile(_read("Dockerfile")),
                       parse_dockerignore(_read(".dockerignore")))


# --- docker-compose.yml ------------------------------------------------------------------------

APP_SERVICES = ("app", "app-gpu")
# `python -m services.worker`: claims runs from the run ledger, runs their chunks on Dask.
WORKER_SERVICES = ("worker", "worker-gpu")
SCHEDULER = "dask-scheduler"
DASK_WORKER_SERVICES = ("dask-worker", "dask-worker-gpu")  # scaled: --scale dask-worker=N
# Each pair: the cpu profile's service and the gpu profile's variant of it.
PROFILED = (APP_SERVICES, WORKER_SERVICES, DASK_WORKER_SERVICES)
# Everything that reads or writes run data: one shared named volume at DATA_DIR for all of them.
DATA_SERVICES = APP_SERVICES + WORKER_SERVICES + DASK_WORKER_SERVICES
# Everything built from this repository's Dockerfile.
IMAGE_SERVICES = DATA_SERVICES + (SCHEDULER,)
INTERPOLATION = re.compile(
    r"\$\{(?P<name>[A-Za-z_]\w*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}")


def load_compose(text: str) -> dict[str, Any]:
    return yaml.safe_load(text)  # resolves the x-* anchors and their <<: merges


def environment(service: dict[str, Any]) -> dict[str, Any]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return {k: v for k, _, v in (item.partition("=") for item in env)}
    return dict(env)


def _command_text(value: Any) -> str:
    return " ".join(value) if isinstance(value, list) else str(value or "")


def command_args(service: dict[str, Any]) -> list[str]:
    command = service.get("command")
    return [str(a) for a in command] if isinstance(command, list) else shlex.split(command or "")


def option(args: list[str], flag: str) -> str | None:
    """The value after ``flag`` (``--flag value`` or ``--flag=value``), None when absent."""
    for n, arg in enumerate(args):
        if arg == flag and n + 1 < len(args):
            return args[n + 1]
        if arg.startswith(flag + "="):
            return arg.partition("=")[2]
    return None


def default_of(value: Any) -> str:
    """``${NAME:-default}`` -> default; a literal stays as it is."""
    match = INTERPOLATION.fullmatch(str(value))
    return match["arg"] if match and match["op"] in ("-", ":-") else str(value)


def volumes(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, target) of each mount, short or long syntax."""
    mounts = []
    for v in service.get("volumes") or []:
        if isinstance(v, dict):
            mounts.append((str(v.get("source", "")), str(v["target"])))
        else:
            source, _, rest = str(v).partition(":")
            mounts.append((source, rest.partition(":")[0]) if rest else ("", source))
    return mounts


def named_volume_at(compose: dict[str, Any], service: str, target: str) -> str | None:
    for source, mount in volumes(compose["services"][service]):
        if mount == target and source and not source.startswith((".", "/", "~", "$")):
            return source
    return None


def check_services_and_profiles(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(IMAGE_SERVICES) | {"postgres", "redis"} <= set(services)
    for cpu, gpu in PROFILED:
        assert services[cpu].get("profiles") == ["cpu"], f"{cpu} should be in the cpu profile only"
        assert services[gpu].get("profiles") == ["gpu"], f"{gpu} should be in the gpu profile only"
    for name in ("postgres", "redis", SCHEDULER):
        assert not services[name].get("profiles"), f"{name} should start with either profile"


def check_pinned_images(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = service.get("image")
        assert image, f"{name} should name its image"
        match = re.fullmatch(r"[\w./-]+:(?P<tag>[\w.-]+)", image)
        assert match, f"{name}'s image {image!r} has no tag"
        tag = match["tag"]
        assert tag != "latest" and re.search(r"\d+\.\d+", tag), f"{name}: {image!r} is not pinned"
    postgres_tag = compose["services"]["postgres"]["image"].partition(":")[2]
    assert re.match(r"\d+\.\d+", postgres_tag), "postgres's major version should be pinned"
    images = {compose["services"][s]["image"] for s in APP_SERVICES}
    assert len(images) == len(APP_SERVICES), "the cpu and gpu builds should not share a tag"


def check_one_image(compose: dict[str, Any]) -> None:
    """The worker service (a Dask client), the scheduler and the Dask workers run the app's image
    of their profile, built the same way: Dask needs the same code and pins on all of them."""
    services = compose["services"]
    for name in IMAGE_SERVICES:
        profile = services[name].get("profiles") or ["cpu"]  # the scheduler: the CPU image
        app = services["app-gpu" if profile == ["gpu"] else "app"]
        assert services[name].get("image") == app["image"], f"{name} should run {app['image']}"
        assert services[name].get("build") == app["build"], f"{name} should build as the app does"


def check_healthchecks(compose: dict[str, Any]) -> None:
    """Each service has its own check; an image service without one would inherit the image's
    HEALTHCHECK (the app's services.health), which fails everywhere but in the app."""
    services = compose["services"]
    expected = {"postgres": ("pg_isready",), "redis": ("redis-cli", "ping"),
                **{s: ("services.health",) for s in APP_SERVICES},
                **{s: ("services.worker", "--health") for s in WORKER_SERVICES}}
    for name in (SCHEDULER, *DASK_WORKER_SERVICES):  # Dask's /health on its HTTP port
        port = (option(command_args(services[name]), "--dashboard-address") or "").rpartition(":")
        assert port[2].isdigit(), f"{name} should set --dashboard-address (its /health)"
        expected[name] = (f"localhost:{port[2]}/health",)
    for name, service in services.items():
        check = service.get("healthcheck") or {}
        assert not check.get("disable"), f"{name}'s healthcheck is disabled"
        test = _command_text(check.get("test"))
        if name in IMAGE_SERVICES:
            assert check.get("test"), f"{name} should have its own healthcheck"
            assert not re.search(r"\b(curl|wget)\b", test), \
                f"{name}: the slim image has no curl or wget; ask with python"
        for word in expected.get(name, ("",)):
            assert word in test and "NONE" not in test, f"{name}'s healthcheck should run {word}"


def check_depends_on(compose: dict[str, Any]) -> None:
    needs = {**{s: ("postgres", "redis") for s in APP_SERVICES},
             **{s: ("postgres", "redis", SCHEDULER) for s in WORKER_SERVICES},
             **{s: (SCHEDULER,) for s in DASK_WORKER_SERVICES}}
    for name, deps in needs.items():
        depends = compose["services"][name].get("depends_on")
        assert isinstance(depends, dict), f"{name} should wait for healthy dependencies"
        for dep in deps:
            assert (depends.get(dep) or {}).get("condition") == "service_healthy", \
                f"{name} should depend on {dep} being healthy"


def check_restart_and_limits(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        assert service.get("restart") in ("unless-stopped", "always"), f"{name}: restart policy"
        limits = (service.get("deploy") or {}).get("resources", {}).get("limits") or {}
        assert limits.get("memory"), f"{name} should have a memory limit"


def check_redis_is_a_cache(compose: dict[str, Any]) -> None:
    args = command_args(compose["services"]["redis"])

    def after(flag: str) -> str | None:
        return args[args.index(flag) + 1] if flag in args[:-1] else None

    assert after("--maxmemory"), "redis should bound its memory (--maxmemory)"
    assert after("--maxmemory-policy") in ("allkeys-lru", "allkeys-lfu"), \
        "a cache should evict any key (allkeys-lru or allkeys-lfu)"
    assert after("--save") == "", 'redis should not write snapshots (--save "")'
    assert after("--appendonly") in (None, "no"), "redis should not keep an append-only file"


def check_named_volumes(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    pg = named_volume_at(compose, "postgres", "/var/lib/postgresql/data")
    assert pg and pg in declared, "postgres's data should live on a declared named volume"
    for name in DATA_SERVICES:
        data = named_volume_at(compose, name, "/data")
        assert data and data in declared, f"{name}'s /data should be a declared named volume"


def _gpu_reserved(service: dict[str, Any]) -> bool:
    devices = (((service.get("deploy") or {}).get("resources") or {}).get("reservations")
               or {}).get("devices") or []
    return any(d.get("driver") == "nvidia" and "gpu" in d.get("capabilities", []) for d in devices)


def check_gpu(compose: dict[str, Any], df: Dockerfile) -> None:
    def args(service: dict[str, Any]) -> dict[str, str]:
        raw = (service.get("build") or {}).get("args") or {}
        if isinstance(raw, list):
            raw = dict(item.partition("=")[::2] for item in raw)
        return {k: str(v) for k, v in raw.items()}

    for cpu, gpu in PROFILED:
        service = compose["services"][gpu]
        assert _gpu_reserved(service), f"{gpu} should reserve an NVIDIA GPU"
        assert args(service).get("INSTALL_GPU") == "1", f"{gpu} should build with INSTALL_GPU=1"
        assert args(compose["services"][cpu]).get("INSTALL_GPU", "0") == "0"
        assert not _gpu_reserved(compose["services"][cpu]), f"{cpu} should not reserve a GPU"
    declared = {name: value for stage in df.stages for ins in stage.instructions
                if ins.keyword == "ARG" for name, value in _arg_pairs(ins.args)}
    assert "INSTALL_GPU" in declared, "the Dockerfile should declare ARG INSTALL_GPU"
    assert declared["INSTALL_GPU"] in (None, "", "0"), "the default image should be CPU-only"


def check_ports(compose: dict[str, Any]) -> None:
    published = {name for name, s in compose["services"].items() if s.get("ports")}
    assert "app" in published, "the app should publish its port"
    assert published <= set(APP_SERVICES), f"only the app may publish ports, not {published}"


def _secret_value_ok(value: Any) -> bool:
    if value in (None, ""):
        return True
    match = INTERPOLATION.fullmatch(str(value))
    return bool(match) and (not match["op"] or "?" in match["op"] or not match["arg"])


def check_no_literal_secrets(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for key, value in environment(service).items():
            if SECRET_KEY.search(key.upper()):
                assert _secret_value_ok(value), f"{name}: {key} holds a literal secret"
    pg_env = environment(compose["services"]["postgres"])
    for name in DATA_SERVICES:
        env = environment(compose["services"][name])
        url = re.fullmatch(r"postgres(?:ql)?://(?P<user>[^:@/]+):(?P<pw>\$\{[^}]*\})"
                           r"@(?P<host>[^:/@]+)(?::\d+)?/(?P<db>[^/?]+)",
                           str(env.get("DATABASE_URL")))
        assert url, f"{name}: DATABASE_URL should be postgresql://user:${{...}}@host/db"
        assert url["pw"].startswith("${POSTGRES_PASSWORD"), "its password is POSTGRES_PASSWORD"
        assert (url["user"], url["host"], url["db"]) == (
            pg_env["POSTGRES_USER"], "postgres", pg_env["POSTGRES_DB"])
        assert re.match(r"rediss?://redis(:\d+)?/", str(env.get("REDIS_URL"))), \
            f"{name}: REDIS_URL should point at the redis service"
    for name in (SCHEDULER, *DASK_WORKER_SERVICES):  # they run chunks, never a login
        keys = [k for k in environment(compose["services"][name]) if SECRET_NAME.search(k.upper())]
        assert not keys, f"{name} should not get the login secrets {keys}"


def check_data_dir(compose: dict[str, Any], df: Dockerfile) -> None:
    image_env = dict(p for i in df.runtime.instructions if i.keyword == "ENV"
                     for p in env_pairs(i.args))
    shared = set()
    for name in DATA_SERVICES:
        data_dir = environment(compose["services"][name]).get("DATA_DIR")
        volume = named_volume_at(compose, name, data_dir) if data_dir else None
        assert volume, f"{name}: DATA_DIR {data_dir!r} should be its named volume's mount point"
        assert image_env.get("DATA_DIR") == data_dir, \
            f"the image and compose's {name} disagree on DATA_DIR"
        shared.add(volume)
    # Dask workers write the samples the app reads and the worker service finishes.
    assert len(shared) == 1, f"the app, worker and Dask workers should share one volume: {shared}"


def check_dask_cluster(compose: dict[str, Any]) -> None:
    """The scheduler listens where the worker service and the Dask workers look for it; the Dask
    workers can be scaled; their memory settings fit their containers."""
    services = compose["services"]
    scheduler = command_args(services[SCHEDULER])
    assert scheduler[:2] == ["dask", "scheduler"], f"{SCHEDULER} should run `dask scheduler`"
    assert option(scheduler, "--host") == "0.0.0.0", "the scheduler should listen on all"
    address = f"tcp://{SCHEDULER}:{option(scheduler, '--port') or 8786}"
    for name in WORKER_SERVICES:
        args = command_args(services[name])
        assert "-m" in args and args[args.index("-m") + 1] == "services.worker", \
            f"{name} should run python -m services.worker"
        assert environment(services[name]).get("DASK_SCHEDULER_ADDRESS") == address, \
            f"{name}'s DASK_SCHEDULER_ADDRESS should be {address}"
    env_memory = environment(services[WORKER_SERVICES[0]]).get("DASK_WORKER_MEMORY")
    for name in DASK_WORKER_SERVICES:
        service = services[name]
        args = command_args(service)
        assert args[:2] == ["dask", "worker"], f"{name} should run `dask worker`"
        assert address in args, f"{name} should join {address}"
        assert "container_name" not in service, f"{name} has a container_name: it cannot scale"
        memory = option(args, "--memory-limit") or ""
        ref = INTERPOLATION.fullmatch(memory)
        assert ref and ref["name"] == "DASK_WORKER_MEMORY" \
            and default_of(memory) == default_of(env_memory), \
            f"{name}: --memory-limit should be ${{DASK_WORKER_MEMORY:-...}} as the worker's"
        processes = int(option(args, "--nworkers") or 1)
        limit = service["deploy"]["resources"]["limits"]["memory"]
        assert docker_bytes(default_of(limit)) > processes * dask_bytes(default_of(memory)), \
            f"{name}'s container limit {limit} should exceed {processes} x {memory}"


def docker_bytes(text: str) -> int:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([bkmg]?)b?", text.strip().lower())
    assert match, f"not a compose memory size: {text!r}"
    return int(float(match[1]) * 1024 ** "bkmg".index(match[2] or "b"))


def dask_bytes(text: str) -> int:
    from dask.utils import parse_bytes

    return parse_bytes(text)


def check_app_listens_on_published_port(compose: dict[str, Any]) -> None:
    for name in APP_SERVICES:
        service = compose["services"][name]
        env = environment(service)
        assert env.get("ADDRESS") == "0.0.0.0", "inside a container the app must listen on all"
        for port in service.get("ports") or []:
            target = str(port["target"]) if isinstance(port, dict) else str(port).rsplit(":")[-1]
            assert target.partition("/")[0] == str(env.get("PORT")), \
                f"{name} publishes {target} but listens on PORT {env.get('PORT')}"


COMPOSE_CHECKS = (check_services_and_profiles, check_pinned_images, check_one_image,
                  check_healthchecks, check_depends_on, check_restart_and_limits,
                  check_redis_is_a_cache, check_named_volumes, check_ports,
                  check_no_literal_secrets, check_dask_cluster,
                  check_app_listens_on_published_port)


@pytest.mark.parametrize("check", COMPOSE_CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
def test_compose(check: Any) -> None:
    check(load_compose(_read("docker-compose.yml")))


def test_compose_gpu_services_reserve_a_gpu() -> None:
    check_gpu(load_compose(_read("docker-compose.yml")), parse_dockerfile(_read("Dockerfile")))


def test_compose_data_dir_is_the_data_volume() -> None:
    check_data_dir(load_compose(_read("docker-compose.yml")),
                   parse_dockerfile(_read("Dockerfile")))


# --- .env.example and the variables the app reads ----------------------------------------------

# Names the scan below finds that are not settings of the app (none today). Each needs a reason,
# e.g. "NUMBA_ENABLE_CUDASIM": "read only by the tests' CUDA simulator runs".
NOT_APP_SETTINGS: dict[str, str] = {}
# Variables the app reads that compose sets itself (literally, or built from other variables).
SET_BY_COMPOSE = {"DATABASE_URL", "REDIS_URL", "DATA_DIR", "PORT", "ADDRESS",
                  "DASK_SCHEDULER_ADDRESS"}
KNOWN_READS = {name for _, name, _ in _VARIABLES} | {
    "COOKIE_KEY", "ADMIN_USERNAME", "ADMIN_PASSWORD", "LOG_LEVEL", "LOG_FORMAT", "PORT", "ADDRESS"}
ENV_READ = re.compile(
    r"""(?:\b(?:env|environ)\s*(?:\.get\(|\[)|\bgetenv\()\s*(["'])([A-Z][A-Z0-9_]*)\1""")
SECRETS_IN_ENV_EXAMPLE = ("POSTGRES_PASSWORD", "COOKIE_KEY", "ADMIN_PASSWORD")


@dataclass(frozen=True)
class EnvExample:
    values: dict[str, str]
    sections: dict[str, str]  # name -> the "# --- ..." header above it


def parse_env_example(text: str) -> EnvExample:
    values: dict[str, str] = {}
    sections: dict[str, str] = {}
    section = ""
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line.startswith("# ---"):
            section = line.strip("#- ")
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z_]\w*)=(.*)", line)
        assert match, f".env.example line {n} is not NAME=value: {raw!r}"
        name, value = match.groups()
        assert name not in values, f".env.example sets {name} twice"
        values[name] = value.strip().strip("'\"")
        sections[name] = section
    return EnvExample(values, sections)


def section(env: EnvExample, word: str) -> set[str]:
    names = {n for n, s in env.sections.items() if word in s}
    assert names, f".env.example has no '# --- ... {word} ...' section"
    return names


@cache
def scanned_reads() -> frozenset[str]:
    names: set[str] = set()
    for entry in APP_SOURCES:
        path = ROOT / entry
        for file in [path] if path.is_file() else sorted(path.rglob("*.py")):
            names.update(m[1] for m in ENV_READ.findall(file.read_text(encoding="utf-8")))
    return frozenset(names)


def app_variables() -> set[str]:
    return ({name for _, name, _ in _VARIABLES} | scanned_reads()) - set(NOT_APP_SETTINGS)


def compose_references(text: str) -> set[str]:
    text = text.replace("$$", "")
    return ({m["name"] for m in INTERPOLATION.finditer(text)}
            | set(re.findall(r"\$([A-Za-z_]\w*)", text)))


def check_compose_variables_documented(compose_text: str, env: EnvExample) -> None:
    missing = compose_references(compose_text) - set(env.values)
    assert not missing, f"docker-compose.yml uses variables .env.example lacks: {missing}"
    stale = {n for n in section(env, "compose")
             if n not in compose_references(compose_text) and not n.startswith("COMPOSE_")}
    assert not stale, f".env.example documents compose variables compose never reads: {stale}"


def check_app_variables_documented(env: EnvExample) -> None:
    documented = section(env, "app")
    assert not app_variables() - documented, \
        f"the app reads variables .env.example lacks: {app_variables() - documented}"
    stale = documented - app_variables()
    assert not stale, f".env.example's app section has variables the app never reads: {stale}"


def check_app_variables_passed(compose: dict[str, Any], env: EnvExample) -> None:
    for service in APP_SERVICES + WORKER_SERVICES:
        passed = environment(compose["services"][service])
        for name in sorted(section(env, "app")):
            assert name in passed, f"compose does not pass {name} to {service}"
            if name not in SET_BY_COMPOSE:
                ref = INTERPOLATION.fullmatch(str(passed[name]))
                assert ref and ref["name"] == name, \
                    f"{service}: {name} should be ${{{name}...}} so that .env reaches it"


def check_env_example_has_no_secrets(env: EnvExample) -> None:
    for name in SECRETS_IN_ENV_EXAMPLE:
        assert name in env.values and env.values[name] == "", f".env.example sets {name}"
    for name, value in env.values.items():
        if SECRET_KEY.search(name):
            assert value == "", f".env.example sets a value for {name}"


def test_env_scan_finds_the_known_reads() -> None:
    assert app_variables() >= KNOWN_READS, KNOWN_READS - app_variables()
    assert set(NOT_APP_SETTINGS) <= scanned_reads(), "NOT_APP_SETTINGS names a stale variable"


def test_env_example_documents_compose_variables() -> None:
    check_compose_variables_documented(_read("docker-compose.yml"),
                                       parse_env_example(_read(".env.example")))


def test_env_example_documents_every_app_variable() -> None:
    check_app_variables_documented(parse_env_example(_read(".env.example")))


def test_compose_passes_every_app_variable() -> None:
    check_app_variables_passed(load_compose(_read("docker-compose.yml")),
                               parse_env_example(_read(".env.example")))


def test_compose_defaults_match_the_app_defaults() -> None:
    """``${NAME:-default}`` in compose is what the app would use with NAME unset."""
    passed = environment(load_compose(_read("docker-compose.yml"))["services"]["app"])
    defaults = {f.name: f.default for f in dataclasses.fields(Settings)}
    expected = {name: (parse, defaults[attr]) for attr, name, parse in _VARIABLES}
    expected["LOG_FORMAT"] = (str, log_format({}))
    checked = 0
    for name, (parse, default) in expected.items():
        ref = INTERPOLATION.fullmatch(str(passed.get(name, "")))
        if ref and ref["op"] in ("-", ":-") and ref["arg"]:
            assert parse(ref["arg"]) == default, f"compose's default {name} differs from the app's"
            checked += 1
    assert checked >= 5


def test_env_example_holds_no_secrets() -> None:
    check_env_example_has_no_secrets(parse_env_example(_read(".env.example")))


def test_env_example_profile_exists() -> None:
    env = parse_env_example(_read(".env.example"))
    profiles = {p for s in load_compose(_read("docker-compose.yml"))["services"].values()
                for p in s.get("profiles", [])}
    assert env.values.get("COMPOSE_PROFILES") in profiles


def test_dot_env_is_git_ignored() -> None:
    lines = {line.strip() for line in _read(".gitignore").splitlines()}
    assert lines & {".env", "/.env"}, ".gitignore should list .env"
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("no git here to ask")

    def ignored(name: str) -> bool:  # --no-index: the patterns decide, not whether it is tracked
        return subprocess.run([git, "-C", str(ROOT), "check-ignore", "-q", "--no-index", name],
                              check=False).returncode == 0

    assert ignored(".env")
    assert not ignored(".env.example")


# --- the checks notice breakage ----------------------------------------------------------------

def _broken(name: str, old: str, new: str, *more: str) -> str:
    """``name``'s text with ``old`` replaced by ``new`` (and each further old, new pair)."""
    text = _read(name)
    edits = (old, new, *more)
    for old, new in zip(edits[::2], edits[1::2], strict=True):
        if old not in text:  # not an AssertionError: that would pass the test below vacuously
            pytest.fail(f"the mutation {old!r} no longer applies to {name}")
        text = text.replace(old, new)
    return text


def _mutations() -> list[tuple[str, Any]]:
    def dockerfile(old: str, new: str) -> Dockerfile:
        return parse_dockerfile(_broken("Dockerfile", old, new))

    def compose(old: str, new: str, *more: str) -> dict[str, Any]:
        return load_compose(_broken("docker-compose.yml", old, new, *more))

    real_df = parse_dockerfile(_read("Dockerfile"))
    return [
        ("no USER", lambda: check_non_root_user(dockerfile("USER xlsim", ""))),
        ("USER root", lambda: check_non_root_user(dockerfile("USER xlsim", "USER root"))),
        ("unpinned base", lambda: check_base_image(
            dockerfile("python:3.11.10-slim-bookworm", "python:3.11-slim"))),
        ("shell-form CMD", lambda: check_cmd(
            dockerfile('CMD ["python", "-m", "services.serve"]', "CMD python -m services.serve"))),
        ("engine not copied", lambda: check_runtime_copies(
            dockerfile("COPY engine ./engine", ""), _local_import_roots())),
        ("package flattened", lambda: check_runtime_copies(
            dockerfile("COPY db ./db", "COPY db ./"), set(RUNTIME_PATHS))),
        ("secret ARG", lambda: check_no_baked_secrets(
            dockerfile("ARG INSTALL_GPU=0", "ARG INSTALL_GPU=0\nARG ADMIN_PASSWORD"))),
        ("no hashes", lambda: check_locked_dependencies(dockerfile("--require-hashes ", ""))),
        (".env re-included", lambda: check_dockerignore(
            real_df, parse_dockerignore(_read(".dockerignore") + "\n!.env\n"))),
        ("engine not re-included", lambda: check_dockerignore(
            real_df, parse_dockerignore(_broken(".dockerignore", "!engine/", "")))),
        ("volatile eviction", lambda: check_redis_is_a_cache(
            compose('"allkeys-lru"', '"volatile-lru"'))),
        ("redis snapshots", lambda: check_redis_is_a_cache(compose('"--save", "", ', ""))),
        ("literal password", lambda: check_no_literal_secrets(
            compose("${ADMIN_PASSWORD:-}", "${ADMIN_PASSWORD:-hunter22}"))),
        ("latest image", lambda: check_pinned_images(
            compose("redis:7.4.1-bookworm", "redis:latest"))),
        ("postgres published", lambda: check_ports(compose(
            "    image: postgres:16.6-bookworm",
            '    image: postgres:16.6-bookworm\n    ports: ["5432:5432"]'))),
        ("healthcheck not awaited", lambda: check_depends_on(
            compose("condition: service_healthy", "condition: service_started"))),
        ("variable not passed", lambda: check_app_variables_passed(
            compose("  MAX_UPLOAD_MB: ${MAX_UPLOAD_MB:-500}\n", ""),
            parse_env_example(_read(".env.example")))),
        # The worker service and the Dask cluster.
        ("dask-worker in both profiles", lambda: check_services_and_profiles(compose(
            "    <<: [*image, *dask-worker]\n    profiles: [cpu]\n",
            "    <<: [*image, *dask-worker]\n"))),
        ("dask-worker from the gpu image", lambda: check_one_image(
            compose("<<: [*image, *dask-worker]", "<<: [*gpu-image, *dask-worker]"))),
        ("scheduler from another image", lambda: check_one_image(compose(
            '    <<: *image\n    command: ["dask", "scheduler"',
            '    image: ghcr.io/dask/dask:2024.8.0\n    command: ["dask", "scheduler"'))),
        ("worker inherits the app's healthcheck", lambda: check_healthchecks(compose(
            '  healthcheck:  # its heartbeat file is fresh\n'
            '    test: ["CMD", "python", "-m", "services.worker", "--health"]\n', '  x-off:\n'))),
        ("Dask health on another port", lambda: check_healthchecks(
            compose('"--dashboard-address", ":8788"]', '"--dashboard-address", ":8789"]'))),
        ("curl in the slim image", lambda: check_healthchecks(compose(
            '      test: ["CMD", "python", "-c",\n'
            "             \"import urllib.request; urllib.request.urlopen("
            "'http://localhost:8787/health', timeout=5)\"]\n",
            '      test: ["CMD-SHELL", "curl -fs http://localhost:8787/health"]\n'))),
        ("worker not waiting for the scheduler", lambda: check_depends_on(compose(
            "    redis:\n      condition: service_healthy\n"
            "    dask-scheduler:\n      condition: service_healthy\n",
            "    redis:\n      condition: service_healthy\n"))),
        ("dask-worker on its own volume", lambda: check_data_dir(compose(
            "  environment: *dask-env\n  volumes:\n    - appdata:/data\n",
            "  environment: *dask-env\n  volumes:\n    - runs:/data\n",
            "  appdata:\n", "  appdata:\n  runs:\n"), real_df)),
        ("dask-worker's DATA_DIR elsewhere", lambda: check_data_dir(
            compose("  DATA_DIR: /data\n  DEVICE:", "  DATA_DIR: /srv/data\n  DEVICE:"), real_df)),
        ("scheduler published", lambda: check_ports(compose(
            '    command: ["dask", "scheduler",',
            '    ports: ["8787:8787"]\n    command: ["dask", "scheduler",'))),
        ("login secret for the Dask workers", lambda: check_no_literal_secrets(compose(
            "x-dask-env: &dask-env\n", "x-dask-env: &dask-env\n  COOKIE_KEY: ${COOKIE_KEY:-}\n"))),
        ("dask-worker with a container_name", lambda: check_dask_cluster(compose(
            "  dask-worker:\n", "  dask-worker:\n    container_name: xlsim-dask-worker\n"))),
        ("scheduler on localhost", lambda: check_dask_cluster(
            compose('"--host", "0.0.0.0"', '"--host", "127.0.0.1"'))),
        ("worker looks elsewhere", lambda: check_dask_cluster(compose(
            "DASK_SCHEDULER_ADDRESS: tcp://dask-scheduler:8786",
            "DASK_SCHEDULER_ADDRESS: tcp://scheduler:8786"))),
        ("fixed --memory-limit", lambda: check_dask_cluster(
            compose('"${DASK_WORKER_MEMORY:-2GiB}"', '"4GiB"'))),
        ("container smaller than Dask's limit", lambda: check_dask_cluster(compose(
            "${DASK_WORKER_CONTAINER_MEMORY:-3g}", "${DASK_WORKER_CONTAINER_MEMORY:-2g}"))),
        ("GPU Dask worker without a GPU", lambda: check_gpu(compose(
            "          memory: ${DASK_WORKER_CONTAINER_MEMORY:-3g}\n"
            "        reservations: *gpu-reservation\n",
            "          memory: ${DASK_WORKER_CONTAINER_MEMORY:-3g}\n"), real_df)),
        ("secret in .env.example", lambda: check_env_example_has_no_secrets(
            parse_env_example(_broken(".env.example", "COOKIE_KEY=\n", "COOKIE_KEY=abc\n")))),
    ]


@pytest.mark.parametrize("broken", _mutations(), ids=lambda m: m[0])
def test_check_catches(broken: tuple[str, Any]) -> None:
    with pytest.raises(AssertionError):
        broken[1]()
