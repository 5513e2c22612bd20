"""hakmem-fuzz: command-line entry point (placeholder until the runner lands)."""
import sys

USAGE = """usage: hakmem-fuzz run [--minutes M] [--workers N] [--seed S] [--db PATH] [--report DIR]
       hakmem-fuzz mutants [--budget SECONDS] [--json FILE] [--list] [NAME ...]
"""


def main(argv=None) -> int:
    print(USAGE, end="")
    return 2


if __name__ == "__main__":
    sys.exit(main())
