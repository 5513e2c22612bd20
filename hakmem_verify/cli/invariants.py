"""hakmem-fuzz invariants: print the invariant catalogue from the registry.

    hakmem-fuzz invariants              a table: ID, level, scope, cost, statement
    hakmem-fuzz invariants --json       a list of objects: id, level, scope, cost,
                                        statement, where, topic, planted, quality_test
    hakmem-fuzz invariants --markdown   the table of docs/CATALOGUE.md (--write: update it)

Exit status: 0 printed; 2 usage error.  A closed pipe (``| head``) is not an error.
"""
from __future__ import annotations

import argparse
import json
import sys

USAGE = 2


def main(argv) -> int:
    parser = argparse.ArgumentParser(prog="hakmem-fuzz invariants",
                                     description="Print the invariant catalogue (the registry "
                                                 "in hakmem_verify/check/).")
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="a JSON list of objects")
    fmt.add_argument("--markdown", action="store_true", help="the table of docs/CATALOGUE.md")
    parser.add_argument("--write", action="store_true",
                        help="with --markdown: regenerate the table in docs/CATALOGUE.md")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else USAGE
    if args.write and not args.markdown:
        sys.stderr.write("hakmem-fuzz invariants: --write needs --markdown\n")
        return USAGE
    from hakmem_verify import check as invariants
    from hakmem_verify.check import readme
    try:
        if args.json:
            json.dump([inv.as_dict() for inv in invariants.catalogue()], sys.stdout, indent=2)
            sys.stdout.write("\n")
        elif args.markdown and args.write:
            changed = readme.write()
            print(f"{readme.README}: {'updated' if changed else 'already up to date'}")
        elif args.markdown:
            sys.stdout.write(invariants.markdown_table())
        else:
            cat = invariants.catalogue()
            print(f"{len(cat)} invariants (levels: L1 O(1) per op, L2 O(what the op touched), "
                  f"L3 O(heap)); --json for everything")
            for inv in cat:
                print(f"{inv.id:<8} L{inv.level} {inv.scope:<6} {inv.cost:<34} {inv.statement}")
        sys.stdout.flush()
    except BrokenPipeError:
        sys.stderr.close()      # the reader went away (| head): nothing more to say
    return 0
