"""The native tests need the C pool built (cffi and a C compiler).  Without them only
``test_native_build.py`` is collected, and it skips with one line saying why
(``pytest -rs`` shows it); the other modules here are not collected."""
from hakmem_verify.models.native import unavailable_reason

REASON = unavailable_reason()
if REASON:
    collect_ignore_glob = ["test_native_[!b]*.py"]
