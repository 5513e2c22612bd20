"""``python -m hakmem_verify.models.native``: build the C pool now (it is otherwise built at first use)
and say where it is, or why it cannot be built (exit 2)."""
import sys

from . import build

try:
    mod = build.load()
except build.NativeUnavailable as e:
    print(f"hakmem_verify.models.native: {e}", file=sys.stderr)
    sys.exit(2)
print(f"hakmem_verify.models.native: C pool built: {mod.__file__}")
