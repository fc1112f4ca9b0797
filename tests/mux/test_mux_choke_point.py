"""talkcli.mux.ffmpeg is the one place a process is started (STYLE.md, practice 6).

Scans the package source: a module that started ffmpeg itself would skip the
binary lookup, the quoted debug log and the typed errors of the choke point.
"""

from __future__ import annotations

import ast
from pathlib import Path

import talkcli

PACKAGE = Path(talkcli.__file__).resolve().parent
CHOKE_POINT = PACKAGE / "mux" / "ffmpeg.py"

# Every standard-library way to start a process.
_SUBPROCESS = {"run", "Popen", "call", "check_call", "check_output", "getoutput", "getstatusoutput"}
_OS_PREFIXES = ("system", "popen", "spawn", "exec", "posix_spawn", "fork")
_ASYNCIO = {"create_subprocess_exec", "create_subprocess_shell"}


def process_starts(source: str) -> list[tuple[int, str]]:
    """(line, what) of each use of a process-starting function in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module in ("subprocess", "os", "asyncio"):
            for alias in node.names:
                name = alias.name
                if (
                    (node.module == "subprocess" and name in _SUBPROCESS | {"*"})
                    or (node.module == "os" and name.startswith(_OS_PREFIXES))
                    or (node.module == "asyncio" and name in _ASYNCIO)
                ):
                    found.append((node.lineno, f"from {node.module} import {name}"))
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            module, name = node.value.id, node.attr
            if (
                (module == "subprocess" and name in _SUBPROCESS)
                or (module == "os" and name.startswith(_OS_PREFIXES))
                or (module == "asyncio" and name in _ASYNCIO)
            ):
                found.append((node.lineno, f"{module}.{name}"))
    return sorted(found)


def test_the_scanner_sees_each_way_of_starting_a_process():
    source = (
        "import os, subprocess\nfrom subprocess import check_output\n"
        "subprocess.run(['x'])\np: subprocess.Popen\nos.system('x')\nos.execvp('x', [])\n"
        "subprocess.PIPE\nos.path.join('a')\n"
    )
    assert [what for _, what in process_starts(source)] == [
        "from subprocess import check_output", "subprocess.run", "subprocess.Popen", "os.system", "os.execvp",
    ]  # fmt: skip


def test_only_the_choke_point_starts_processes():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == CHOKE_POINT:
            continue
        for line, what in process_starts(path.read_text(encoding="utf-8")):
            offenders.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {what}")
    assert offenders == [], "start ffmpeg through talkcli.mux.ffmpeg (run_ffmpeg / start_ffmpeg):\n" + "\n".join(offenders)
    # The choke point itself does start processes: the scan would notice if it moved.
    assert process_starts(CHOKE_POINT.read_text(encoding="utf-8"))
