"""Architecture checks: the layering table of STYLE.md, a test file per module, the size cap.

The import rules are read from the source with ``ast`` (nothing is imported), so a violation is
reported as ``file:line`` whatever the module does at import time.
"""

from __future__ import annotations

import ast
import functools
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = SRC / "keyroute"
TESTS = ROOT / "tests"

STDLIB = "<stdlib>"


@dataclass(frozen=True)
class Rule:
    """What the modules under ``layer`` may import.

    ``allowed`` lists keyroute module prefixes, third-party top-level names and ``STDLIB``
    (``None``: anything not forbidden); ``forbidden`` wins over ``allowed``. A module may always
    import its own layer (``keyroute.wire.openai.stream`` -> ``keyroute.wire.openai.response``).
    """

    layer: str
    allowed: tuple[str, ...] | None
    forbidden: tuple[str, ...] = ()


def _provider_adapters() -> tuple[str, ...]:
    """Every module of ``keyroute.providers`` that is an adapter (not the shared base/registry)."""
    return tuple(
        f"keyroute.providers.{p.stem}"
        for p in (PACKAGE / "providers").glob("*.py")
        if p.stem not in ("__init__", "base", "registry")
    )


def _concrete_storage() -> tuple[str, ...]:
    """Every module of ``keyroute.storage`` but the protocols (backends, schema, migrations)."""
    return tuple(
        f"keyroute.storage.{p.stem}"
        for p in (PACKAGE / "storage").iterdir()
        if (p.suffix == ".py" or (p / "__init__.py").is_file())
        and p.stem not in ("__init__", "base")
    )


# STYLE.md "Dependency direction", for the packages that exist.
RULES: tuple[Rule, ...] = (
    Rule("keyroute.core", (STDLIB,)),
    Rule("keyroute.wire", ("keyroute.core", "msgspec", "pydantic", STDLIB)),
    Rule("keyroute.catalogue", ("keyroute.core", "msgspec", STDLIB)),
    Rule(
        "keyroute.providers",
        ("keyroute.core", "keyroute.wire", "keyroute.catalogue", "msgspec", STDLIB),
    ),
    Rule("keyroute.batching", ("keyroute.core", STDLIB)),
    # The difficulty scorer: pure CPU over the canonical request, no I/O but its package data.
    Rule("keyroute.router", ("keyroute.core", "numpy", STDLIB)),
    Rule(
        "keyroute.accounting",
        (
            "keyroute.core",
            "keyroute.config",
            "keyroute.storage.base",
            "keyroute.catalogue",
            "keyroute.batching",
            STDLIB,
        ),
    ),
    Rule(
        "keyroute.audit",
        (
            "keyroute.core",
            "keyroute.config",
            "keyroute.storage.base",
            "keyroute.batching",
            "msgspec",
            STDLIB,
        ),
    ),
    Rule(
        "keyroute.admission",
        (
            "keyroute.core",
            "keyroute.config",
            "keyroute.storage.base",
            "keyroute.catalogue",
            "keyroute.ledger",
            STDLIB,
        ),
    ),
    # The ledger: counters behind one protocol; its backends use their own drivers only.
    Rule("keyroute.ledger", ("keyroute.core", "sqlalchemy", STDLIB)),
    Rule(
        "keyroute.upstream", ("keyroute.core", "keyroute.providers", "aiohttp", "msgspec", STDLIB)
    ),
    Rule(
        "keyroute.storage",
        ("keyroute.core", "sqlalchemy", "alembic", "aiosqlite", STDLIB),
    ),
    Rule(
        "keyroute.vault",
        ("keyroute.core", "keyroute.config", "keyroute.storage.base", "cryptography", STDLIB),
    ),
    Rule("keyroute.config", ("keyroute.core", "pydantic", STDLIB)),
    Rule(
        "keyroute.alerts",
        ("keyroute.core", "keyroute.config", "keyroute.storage.base", STDLIB),
    ),
    # The edge where alerts leave the process: their own drivers, and the alert types.
    Rule("keyroute.notifiers", ("keyroute.core", "keyroute.alerts", "aiohttp", STDLIB)),
    # Governance settings: checks and the mapping to the limits admission enforces.
    Rule(
        "keyroute.governance",
        (
            "keyroute.core",
            "keyroute.storage.base",
            "keyroute.admission.policy",
            "keyroute.plans",
            STDLIB,
        ),
    ),
    Rule(
        "keyroute.routing",
        (
            "keyroute.core",
            "keyroute.config",
            "keyroute.storage.base",
            "keyroute.catalogue",
            "keyroute.providers",
            "keyroute.workspace_state",
            STDLIB,
        ),
    ),
    # The request lifecycle sequences every stage; it never sees HTTP or the admin surface.
    Rule("keyroute.pipeline", None, ("starlette", "uvicorn", "keyroute.api", "keyroute.admin")),
    # ControlPlane: management over storage protocols and the vault, never HTTP or upstreams.
    Rule(
        "keyroute.control",
        None,
        ("starlette", "uvicorn", "aiohttp", "keyroute.api", "keyroute.admin", "keyroute.upstream")
        + _concrete_storage(),
    ),
    # The HTTP layers: no concrete storage, no provider adapters or registry, no upstream.
    Rule(
        "keyroute.api",
        None,
        _concrete_storage() + ("keyroute.providers", "keyroute.upstream", "aiohttp"),
    ),
    Rule(
        "keyroute.admin",
        None,
        _concrete_storage() + ("keyroute.providers", "keyroute.upstream", "aiohttp"),
    ),
)

# Tolerated violations, (importing module, imported module) -> reason. Each entry must still be
# a violation (delete it once the import is gone); test_no_layering_violation_at_all keeps the
# debt visible as a strict xfail.
KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the imported module (``from a import b`` is ``a.b`` when ``b`` is a module)
    where: str  # file:line


def _is_module(dotted: str) -> bool:
    if not dotted.startswith("keyroute."):
        return False
    path = SRC.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _absolute(path: Path, node: ast.ImportFrom) -> str:
    """The module a ``from ... import`` names, relative imports resolved against ``path``."""
    if not node.level:
        return node.module or ""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports(path: Path) -> Iterator[Import]:
    """Every import of ``path``, at any depth (functions, ``TYPE_CHECKING`` blocks too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module = module_name(path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            for alias in node.names:
                yield Import(module, alias.name, where)
        elif isinstance(node, ast.ImportFrom):
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            base = _absolute(path, node)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield Import(module, full if _is_module(full) else base, where)


def _under(target: str, prefix: str) -> bool:
    return target == prefix or target.startswith(prefix + ".")


def _kind(target: str) -> str:
    """A keyroute module as is; otherwise ``STDLIB`` or the third-party top-level name."""
    top = target.split(".", 1)[0]
    if top == "keyroute":
        return target
    return STDLIB if top in sys.stdlib_module_names else top


def rule_for(module: str) -> Rule | None:
    found = [r for r in RULES if _under(module, r.layer)]
    return max(found, key=lambda r: len(r.layer)) if found else None


def breaks(rule: Rule, imp: Import) -> bool:
    kind = _kind(imp.target)
    if _under(kind, rule.layer):
        return False
    if any(_under(kind, f) for f in rule.forbidden):
        return True
    return rule.allowed is not None and not any(_under(kind, a) for a in rule.allowed)


def violations() -> list[tuple[Import, Rule]]:
    found: list[tuple[Import, Rule]] = []
    for path in source_files():
        rule = rule_for(module_name(path))
        if rule is not None:
            found.extend((imp, rule) for imp in imports(path) if breaks(rule, imp))
    return found


def describe(found: list[tuple[Import, Rule]]) -> str:
    return "\n".join(
        f"{imp.where}: {imp.module} ({rule.layer} layer) imports {imp.target}"
        for imp, rule in found
    )


def _known(imp: Import) -> bool:
    return (imp.module, imp.target) in KNOWN_VIOLATIONS


def test_layering() -> None:
    found = [(imp, rule) for imp, rule in violations() if not _known(imp)]
    assert not found, "imports that break STYLE.md 'Dependency direction':\n" + describe(found)


def test_known_violations_are_still_real() -> None:
    current = {(imp.module, imp.target) for imp, _ in violations()}
    stale = sorted(set(KNOWN_VIOLATIONS) - current)
    assert not stale, f"fixed, so remove from KNOWN_VIOLATIONS: {stale}"


def test_no_layering_violation_at_all() -> None:
    assert not violations(), describe(violations())


@pytest.mark.parametrize(
    ("module", "target", "expected"),
    [
        ("keyroute.core.chat", "json", False),
        ("keyroute.core.chat", "keyroute.core.json", False),
        ("keyroute.core.chat", "msgspec", True),
        ("keyroute.core.chat", "keyroute.wire.sse", True),
        ("keyroute.wire.sse", "pydantic", False),
        ("keyroute.wire.sse", "httpx", True),
        ("keyroute.wire.openai.stream", "keyroute.wire.openai.response", False),
        ("keyroute.wire.openai.stream", "keyroute.providers.base", True),
        ("keyroute.providers.openai", "keyroute.wire.openai.encode", False),
        ("keyroute.providers.openai", "aiohttp", True),
        ("keyroute.providers.openai", "keyroute.storage.base", True),
        ("keyroute.upstream.sender", "keyroute.upstream.demo", False),
        ("keyroute.upstream.sender", "keyroute.config.schema", True),
        ("keyroute.upstream", "starlette", True),
        ("keyroute.storage.sqlite", "keyroute.storage.schema", False),
        ("keyroute.storage.sqlite", "keyroute.vault.crypto", True),
        ("keyroute.vault.keystore", "keyroute.storage.base", False),
        ("keyroute.vault.keystore", "keyroute.storage.sqlite", True),
        ("keyroute.vault.crypto", "cryptography.hazmat", False),
        ("keyroute.api.app", "starlette.routing", False),
        # STYLE.md: api does not import providers (not even the registry)
        (
            "keyroute.api.app",
            "keyroute.providers.registry",
            True,
        ),  # STYLE.md: api does not import providers
        ("keyroute.api.app", "keyroute.providers.base", True),
        ("keyroute.api.app", "keyroute.providers.openai", True),
        ("keyroute.pipeline.lifecycle", "starlette.requests", True),
        ("keyroute.pipeline.lifecycle", "keyroute.api.asgi", True),
        ("keyroute.pipeline.lifecycle", "keyroute.routing.resolver", False),
        ("keyroute.routing.resolver", "keyroute.vault.keystore", True),
        ("keyroute.routing.resolver", "aiohttp", True),
        ("keyroute.config.schema", "keyroute.storage.base", True),
        ("keyroute.control.plane", "keyroute.storage.sqlite", True),
        ("keyroute.control.plane", "keyroute.upstream.sender", True),
        ("keyroute.admin.routes", "keyroute.storage.sqlite", True),
        ("keyroute.admin.routes", "keyroute.storage.memory", True),
        ("keyroute.admin.routes", "keyroute.storage.base", False),
        ("keyroute.admin.routes", "keyroute.storage.registry", True),
        ("keyroute.storage.migrations.env", "keyroute.storage.schema", False),
        ("keyroute.storage.migrations.env", "keyroute.services", True),
        ("keyroute.services", "keyroute.storage.sqlite", False),  # no rule: composition root
    ],
)
def test_rule_table(module: str, target: str, expected: bool) -> None:
    rule = rule_for(module)
    assert (rule is not None and breaks(rule, Import(module, target, "x:1"))) is expected


def test_from_import_of_a_module_is_seen_as_that_module() -> None:
    imps = {i.target for i in imports(PACKAGE / "pipeline" / "listing.py")}
    assert "keyroute.providers.registry" in imps  # ``from keyroute.providers import registry``


# Every module has a test file.

# Modules without a unit test file of their own, each with the reason.
UNTESTED: dict[str, str] = {
    "admin/routes.py": "HTTP handlers: covered end to end by tests/integration/test_cli_admin.py",
    "admin/payload.py": "the admin body reader: tests/integration/test_cli_admin.py",
    "admin/governance_routes.py": "HTTP handlers: tests/integration/test_governance_cli_admin.py",
    "cli/governance.py": "CLI: covered by tests/integration/test_governance_cli_admin.py",
    "api/anthropic_routes.py": "HTTP handlers: tests/integration/test_messages_anthropic.py",
    "api/app.py": "Starlette wiring: covered by the integration suite",
    "api/factory.py": "uvicorn factory entry point: exercised by `keyroute serve --workers`",
    "api/openai_routes.py": "HTTP handlers: covered by tests/integration/test_chat_openai.py",
    "cli/bootstrap.py": "CLI: covered by tests/integration/test_cli_admin.py",
    "cli/group.py": "CLI: covered by tests/integration/test_cli_admin.py",
    "cli/main.py": "CLI entry point: covered by tests/integration/test_cli_admin.py",
    "cli/output.py": "CLI: covered by tests/integration/test_cli_admin.py",
    "cli/resources.py": "CLI: covered by tests/integration/test_cli_admin.py",
    "cli/system.py": "CLI: covered by tests/integration/test_cli_admin.py",
    "core/cache_warmth.py": "a Protocol: tests/unit/caching/test_warmth.py uses WarmPrefixes as it",
    "core/context_cache.py": "value types: tests/unit/wire/test_gemini_cache.py and test_explicit",
    "core/json.py": "type aliases only: checked by mypy wherever they are used",
    "storage/base.py": "Protocols and records: the shared suite tests/unit/storage/test_store.py",
    "ledger/base.py": "the protocol: the shared suite tests/unit/ledger/test_ledger.py",
    "ledger/memory.py": "the shared ledger suite tests/unit/ledger/test_ledger.py",
    "ledger/sqlite.py": "shared suite and lease tests: tests/unit/ledger/test_ledger.py",
    "ledger/leases.py": "through SqliteLedger in tests/unit/ledger/test_ledger.py",
    "storage/memory.py": "covered by the shared Store suite tests/unit/storage/test_store.py",
    "storage/memory_usage.py": "the shared UsageStore suite tests/unit/storage/test_usage_store.py",
    "storage/sqlite_usage.py": "the shared UsageStore suite tests/unit/storage/test_usage_store.py",
    "storage/memory_audit.py": "the shared AuditStore suite tests/unit/storage/test_audit_store.py",
    "storage/sqlite_audit.py": "the shared AuditStore suite tests/unit/storage/test_audit_store.py",
    "cli/audit.py": "CLI: covered by tests/integration/test_audit_log.py",
    "storage/memory_signatures.py": "the shared suite tests/unit/storage/test_signature_store.py",
    "storage/sqlite_signatures.py": "the shared suite tests/unit/storage/test_signature_store.py",
    "storage/memory_responses.py": "shared suite tests/unit/storage/test_response_state_store.py",
    "storage/sqlite_responses.py": "shared suite tests/unit/storage/test_response_state_store.py",
    "storage/sqlite_upsert.py": "through the signature and response-state store suites",
    "storage/memory_response_cache.py": "tests/unit/storage/test_response_cache_store.py",
    "storage/memory_alerts.py": "the shared suite tests/unit/storage/test_alert_store.py",
    "storage/sqlite_alerts.py": "the shared suite tests/unit/storage/test_alert_store.py",
    "cli/alerts.py": "CLI: covered by tests/integration/test_alerts.py",
    "admin/alert_routes.py": "admin API: covered by tests/integration/test_alerts.py",
    "storage/memory_governance.py": "shared suite tests/unit/storage/test_governance_store.py",
    "storage/sqlite_governance.py": "shared suite tests/unit/storage/test_governance_store.py",
    "storage/memory_routing.py": "shared suite tests/unit/storage/test_routing_store.py",
    "storage/sqlite_routing.py": "shared suite tests/unit/storage/test_routing_store.py",
    "routing/report.py": "through the routing report cases of tests/unit/control/test_routing.py",
    "cli/routing.py": "CLI: covered by tests/integration/test_routing.py",
    "admin/routing_routes.py": "HTTP handlers: covered by tests/integration/test_routing.py",
    "api/feedback_routes.py": "HTTP handler: covered by tests/integration/test_routing.py",
    "storage/memory_resilience.py": "shared suite tests/unit/storage/test_resilience_store.py",
    "storage/sqlite_resilience.py": "shared suite tests/unit/storage/test_resilience_store.py",
    "storage/migrations/env.py": "alembic environment: run by the sqlite Store suite's migrate()",
    "wire/anthropic/schema.py": "msgspec schemas: covered through the anthropic codec tests",
    "wire/anthropic/stream_decoder.py": "covered by tests/unit/wire/test_anthropic_stream.py",
    "wire/gemini/_contents.py": "covered through tests/unit/wire/test_gemini_request.py",
    "wire/gemini/_schema.py": "msgspec schemas: covered through the gemini codec tests",
    "wire/openai/_schema.py": "msgspec schemas: covered by tests/unit/wire/openai/test_request.py",
}


@functools.cache
def _modules() -> list[Path]:
    versions = PACKAGE / "storage" / "migrations" / "versions"
    return [
        p
        for p in source_files()
        if p.name not in ("__init__.py", "__main__.py") and not p.is_relative_to(versions)
    ]


def all_test_files() -> list[Path]:
    return [p for p in TESTS.rglob("test_*.py") if "__pycache__" not in p.parts]


def _stem(module: Path) -> str:
    return module.stem.lstrip("_")  # wire/gemini/_schema.py is tested as "schema"


def has_test(module: Path, tests: list[Path]) -> bool:
    """Whether ``module`` has a test file, under the first rule that applies:

    - ``tests/unit/<path>/test_<name>*.py`` (the mirror of ``src/keyroute/<path>/<name>.py``);
    - ``test_<package>_<name>*.py`` anywhere (the flat ``tests/unit/wire/test_gemini_stream.py``);
    - ``test_<name>*.py`` anywhere, when no other module is called ``<name>`` (``errors``,
      ``schema``, ``stream``... are ambiguous: those need one of the two forms above).
    """
    relative = module.relative_to(PACKAGE)
    name = _stem(module)
    mirror = TESTS / "unit" / relative.parent
    if any(t.parent == mirror and t.stem.startswith(f"test_{name}") for t in tests):
        return True
    if relative.parent.parts:
        flat = f"test_{relative.parent.parts[-1]}_{name}"
        if any(t.stem.startswith(flat) for t in tests):
            return True
    if sum(_stem(m) == name for m in _modules()) > 1:
        return False
    return any(t.stem.startswith(f"test_{name}") for t in tests)


def test_every_module_has_a_test_file() -> None:
    tests = all_test_files()
    missing = [
        m.relative_to(PACKAGE).as_posix()
        for m in _modules()
        if not has_test(m, tests) and m.relative_to(PACKAGE).as_posix() not in UNTESTED
    ]
    assert not missing, f"modules without a test file (add one, or to UNTESTED): {missing}"


def test_untested_allow_list_is_current() -> None:
    tests = all_test_files()
    modules = {m.relative_to(PACKAGE).as_posix(): m for m in _modules()}
    gone = sorted(set(UNTESTED) - set(modules))
    covered = sorted(k for k in UNTESTED if k in modules and has_test(modules[k], tests))
    assert not gone, f"UNTESTED names modules that no longer exist: {gone}"
    assert not covered, f"these now have a test file: remove them from UNTESTED: {covered}"


# The size cap.

MAX_LINES = 800
OVERSIZED: dict[str, str] = {}  # "path": "reason"; empty, and it should stay so


def test_no_module_over_the_size_cap() -> None:
    sizes = {
        p.relative_to(PACKAGE).as_posix(): len(p.read_text(encoding="utf-8").splitlines())
        for p in source_files()
    }
    over = {k: n for k, n in sizes.items() if n > MAX_LINES and k not in OVERSIZED}
    assert not over, f"modules over {MAX_LINES} lines: {over}"
