"""The matching core stays pure: no I/O or adapter library is imported by engine/."""
from __future__ import annotations

import ast
from pathlib import Path

import engine

FORBIDDEN = {"kafka", "faust", "aiokafka", "confluent_kafka", "sqlalchemy", "psycopg",
             "psycopg2", "starlette", "uvicorn", "alembic", "httpx", "requests", "socket",
             "asyncio", "orjson", "time", "datetime", "random", "os", "sys", "subprocess",
             "threading", "logging"}
ALLOWED_TOP = {"__future__", "bisect", "collections", "dataclasses", "enum", "typing",
               "sortedcontainers", "engine"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_engine_imports_only_stdlib_basics_and_sortedcontainers():
    files = sorted(Path(engine.__file__).parent.glob("*.py"))
    assert len(files) >= 8
    for path in files:
        for name in imported_modules(path):
            top = name.split(".")[0]
            assert top not in FORBIDDEN, f"{path.name} imports {name}: engine must stay pure"
            assert top in ALLOWED_TOP, f"{path.name} imports {name}, not in {ALLOWED_TOP}"


def test_the_scan_catches_a_forbidden_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import confluent_kafka\nfrom sqlalchemy.orm import Session\n")
    assert imported_modules(bad) == {"confluent_kafka", "sqlalchemy.orm"}
