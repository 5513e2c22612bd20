"""The README's section on C allocators shows exactly the example's adapter file, and its
commands name it."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Testing your own C allocator"


def section() -> str:
    text = (ROOT / "README.md").read_text()
    assert SECTION in text, f"README.md has no section {SECTION!r}"
    return text.split(SECTION, 1)[1].split("\n## ", 1)[0]


def test_the_readme_shows_exactly_the_example_adapter_file():
    blocks = re.findall(r"```json\n(.*?)```", section(), re.S)
    assert blocks == [(ROOT / "examples/c/exalloc.json").read_text()], (
        "the README's adapter file differs from examples/c/exalloc.json: copy the file "
        "into the README section")


def test_the_readme_commands_name_the_example_adapter_and_its_build():
    bash = "".join(re.findall(r"```bash\n(.*?)```", section(), re.S))
    assert "examples/c/build.py" in bash
    for cmd in ("run", "stress", "replay"):
        assert f"hakmem-fuzz {cmd} " in bash and "malloc:examples/c/exalloc.json" in bash
