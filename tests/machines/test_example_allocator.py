"""The README's example allocator (examples/bump_alloc.py): correct black-box, and the
README shows exactly the file."""
import re
from pathlib import Path

from hakmem_verify.explore.impl import load_impl, machine_test

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Testing your own allocator"

TestBumpExampleMachine = machine_test("examples.bump_alloc:make", name="BumpExample")


def readme_blocks():
    text = (ROOT / "README.md").read_text()
    assert SECTION in text, f"README.md has no section {SECTION!r}"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(\w+)\n(.*?)```", section, re.S)


def test_the_example_is_checked_black_box():
    assert load_impl("examples.bump_alloc:make").tier == "black-box"


def test_the_readme_section_shows_exactly_the_example_file():
    python = [body for lang, body in readme_blocks() if lang == "python"]
    assert python and python[0] == (ROOT / "examples" / "bump_alloc.py").read_text(), (
        "the README's example differs from examples/bump_alloc.py: copy the file into the "
        "first python block of the section")


def test_the_readme_commands_name_the_example_factory():
    bash = "".join(body for lang, body in readme_blocks() if lang == "bash")
    assert "hakmem-fuzz run --impl examples.bump_alloc:make --minutes 0.5" in bash
    assert "pytest --impl examples.bump_alloc:make tests/machines/test_impl_machine.py" in bash
    assert (ROOT / "tests" / "machines" / "test_impl_machine.py").exists()
