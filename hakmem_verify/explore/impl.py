"""The implementation under test, named as ``module:factory``.

``factory(config)`` returns an allocator that implements ``hakmem_verify.contract.api.Allocator``;
``load_impl("examples.bump_alloc:make")`` imports it, checks it once on a probe
Config and returns an :class:`Impl`: a factory ``Config -> allocator`` that knows
its name and its tier.  The short names ``fast`` and ``ref`` stand for
``hakmem_verify.models.fast:FastAllocator`` and ``hakmem_verify.models.ref:RefAllocator``; the default is
``$HAKMEM_IMPL``, else ``fast``.

Tiers: an implementation that offers ``hakmem_verify.contract.api.Hooks`` is checked **white-box**
(the whole catalogue); one that offers only ``Allocator`` is checked **black-box**
(outcomes, usable sizes, client data, no overlap, statistics).  A C library named
``malloc:LIB[:PREFIX]`` (``hakmem_verify.models.malloc.spec``) is checked in the **malloc** tier: the
contract of malloc itself (``hakmem_verify.oracle.malloc``), served from a child process.

Every bad name raises :class:`ImplError` whose message says what is wrong and what
to do; the command line turns it into exit status 2 (:func:`resolve_or_exit`).  A
Config the implementation cannot honour is ``hakmem_verify.contract.unsupported.Unsupported``:
skipped and reported as not supported (:func:`skipping_unsupported`), never a bug.
"""
from __future__ import annotations

import importlib
import os
import sys
from collections import Counter

from hakmem_verify.contract.api import Allocator, Capabilities, Config, capabilities_of
from hakmem_verify.contract.unsupported import Unsupported

DEFAULT = "hakmem_verify.models.fast:FastAllocator"
SHORT_NAMES = {"fast": DEFAULT, "ref": "hakmem_verify.models.ref:RefAllocator", "native": "hakmem_verify.models.native:make"}
ENV = "HAKMEM_IMPL"
EXIT_USAGE = 2

#: the methods of hakmem_verify.contract.api.Allocator, read from the protocol itself
PROTOCOL_METHODS = tuple(n for n, v in vars(Allocator).items()
                         if callable(v) and not n.startswith("_"))

#: Configs tried in turn when loading, until one is supported
PROBE_CONFIGS = (Config(), Config(class_sizes=(8, 16, 32), slab_size=128),
                 Config(slab_size=4096, max_slabs_per_class=2))


class ImplError(Exception):
    """The named implementation cannot be loaded or does not meet the protocol."""


class Impl:
    """A checked factory ``Config -> allocator``, with its name and tier."""

    def __init__(self, spec: str, factory, tier: str, capabilities: Capabilities = None):
        self.spec = spec            # "module:factory", as resolved
        self.factory = factory
        self.tier = tier            # "white-box" or "black-box"
        #: what the factory declares (hakmem_verify.contract.api.Capabilities; strict when undeclared)
        self.capabilities = capabilities or capabilities_of(factory)

    def __call__(self, config: Config):
        """A fresh allocator; Unsupported passes through, anything else is ImplError."""
        try:
            obj = self.factory(config)
        except Unsupported:
            raise
        except Exception as e:  # a broken factory, named as such
            raise ImplError(f"{self.spec}: the factory raised {type(e).__name__}: {e} for "
                            f"{config!r}; a factory must return an allocator for every Config "
                            f"it supports and raise hakmem_verify.contract.unsupported.Unsupported(knob, value) "
                            f"for a Config it cannot honour") from e
        missing = missing_protocol(obj, config)
        if missing:
            raise ImplError(f"{self.spec}: the factory returned {type(obj).__name__}, which "
                            f"lacks {', '.join(missing)} of hakmem_verify.contract.api.Allocator; implement "
                            f"them (see hakmem_verify/contract/api.py)")
        return obj

    def __repr__(self):
        return f"Impl({self.spec!r}, {self.tier})"


def missing_protocol(obj, config: Config = None) -> list:
    """Names of the Allocator methods obj lacks (and ``config`` if it has no Config)."""
    missing = [m for m in PROTOCOL_METHODS if not callable(getattr(obj, m, None))]
    cfg = getattr(obj, "config", None)
    if not isinstance(cfg, Config):
        missing.append("config (the Config it was built with)")
    elif config is not None and cfg != config:
        missing.append(f"config equal to the Config passed (it holds {cfg!r})")
    return missing


def default_spec() -> str:
    return os.environ.get(ENV) or DEFAULT


class MallocImpl(Impl):
    """A C library (``malloc:LIB[:PREFIX]``): each call forks a fresh instance of it.
    ``include_known``: issue the ops that trip this release's known bugs too
    (``hakmem_verify.models.malloc.known``)."""

    def __init__(self, mspec, include_known: bool = False):
        from hakmem_verify.models.malloc.client import MallocLib
        self.mspec = mspec
        self.lib = MallocLib(mspec, include_known)
        super().__init__(mspec.text, self.lib.instance, "malloc")

    def __call__(self, config: Config = None):
        from hakmem_verify.models.malloc.client import LibraryError
        try:
            return self.lib.instance()
        except (LibraryError, OSError) as e:
            raise ImplError(str(e)) from None


def load_malloc(spec: str, include_known: bool = False) -> MallocImpl:
    """Resolve ``malloc:LIB[:PREFIX]`` and start the library once (ImplError if unusable)."""
    from hakmem_verify.models.malloc.client import LibraryError
    from hakmem_verify.models.malloc.spec import MallocSpecError, resolve
    try:
        impl = MallocImpl(resolve(spec), include_known)
        probe = impl(None)                  # the library starts and forks: a probe
        impl.classes = tuple(probe.classes())   # its published size classes, if any
        probe.close()
    except MallocSpecError as e:
        raise ImplError(str(e)) from None
    except LibraryError as e:
        raise ImplError(str(e)) from None
    return impl


def load_impl(spec: str = None) -> Impl:
    """Import ``module:factory`` (or a short name), check it on a probe Config; or resolve
    a C library named ``malloc:LIB[:PREFIX]``."""
    if isinstance(spec, Impl):
        return spec
    spec = (spec or default_spec()).strip()
    spec = SHORT_NAMES.get(spec, spec)
    if spec.startswith("malloc:"):
        return load_malloc(spec)
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ImplError(f"--impl {spec!r}: expected MODULE:FACTORY, e.g. "
                        f"examples.bump_alloc:make, or one of {', '.join(SHORT_NAMES)}")
    if module_name == "hakmem_verify.models.native" or module_name.startswith("hakmem_verify.models.native."):
        _native_or_raise()
    factory = _attribute(_import(module_name, spec), attr, spec)
    if not callable(factory):
        raise ImplError(f"{spec}: {attr} is not callable (it is {type(factory).__name__} "
                        f"{factory!r}); "
                        f"name a function or class that takes a Config")
    try:
        caps = capabilities_of(factory)
    except TypeError as e:
        raise ImplError(f"{spec}: {e}") from None
    impl = Impl(spec, factory, "", caps)
    probe, skipped = None, []
    for cfg in PROBE_CONFIGS:
        try:
            probe = impl(caps.adopt(cfg))
            break
        except Unsupported as e:
            skipped.append(str(e))
    if probe is None:
        raise ImplError(f"{spec}: the factory supports none of the probe Configs "
                        f"({'; '.join(skipped)}); it must accept at least the default Config()")
    impl.tier = tier_of(probe)
    return impl


def tier_of(allocator) -> str:
    """The tier the oracle runs for this allocator (the oracle decides, not a copy of it)."""
    from hakmem_verify.models.ref import RefAllocator
    from hakmem_verify.oracle.lockstep import Oracle
    return Oracle(RefAllocator(allocator.config), allocator).tier


def describe(impl) -> tuple:
    """(name, tier) of an Impl, or of an allocator instance."""
    if isinstance(impl, Impl):
        return impl.spec, impl.tier
    if getattr(impl, "spec", None) is not None and hasattr(impl, "alloc_fill"):
        return impl.spec.text, "malloc"
    cls = type(impl)
    return f"{cls.__module__}:{cls.__qualname__}", tier_of(impl)


def banner(impl) -> str:
    """The line printed at start and written in reports."""
    name, tier = describe(impl)
    what = ("the whole invariant catalogue (hooks protocol)" if tier == "white-box" else
            MALLOC_TIER if tier == "malloc" else
            "outcomes, usable sizes, client data, no double allocation, statistics (Allocator "
            "protocol only)")
    return f"implementation: {name} -- {tier}: {what}"


MALLOC_TIER = ("the malloc contract: no overlap, alignment, usable size, client data, realloc "
               "prefix, calloc zero, free(NULL), statistics where exposed, no crash (a C "
               "library in a child process, one real thread per tid)")


def _native_or_raise() -> None:
    """The C pool needs cffi and a compiler: without them, one line saying which."""
    from hakmem_verify.models.native import unavailable_reason
    reason = unavailable_reason()
    if reason:
        raise ImplError(reason)


def _import(module_name: str, spec: str):
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.append(os.getcwd())    # a module in the current directory, as python -m
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and (module_name == e.name or module_name.startswith(e.name + ".")):
            raise ImplError(f"{spec}: no module named {e.name!r} (searched the current "
                            f"directory {os.getcwd()} and sys.path); check the spelling, or "
                            f"run from the directory that holds it") from None
        raise ImplError(f"{spec}: importing {module_name} failed: {e}; install what it "
                        f"needs") from None
    except Exception as e:  # the module itself is broken
        raise ImplError(f"{spec}: importing {module_name} raised {type(e).__name__}: "
                        f"{e}; fix the module") from None


def _attribute(module, attr: str, spec: str):
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = sorted(n for n in dir(module) if not n.startswith("_")
                           and callable(getattr(module, n)))
            raise ImplError(f"{spec}: module {module.__name__} has no {attr!r}; its callables "
                            f"are: {', '.join(names) or 'none'}")
        obj = getattr(obj, part)
    return obj


# ============================================================================
# Configs the implementation cannot honour
# ============================================================================


def skipping_unsupported(impl, seen: Counter = None):
    """A factory for machines: a Config the impl declares unsupported is rejected (Hypothesis
    draws another) and counted in ``seen`` by message, never reported as a bug."""
    from hypothesis import event, reject
    if getattr(impl, "tier", None) == "malloc":
        return impl                     # a C library has no Config to decline

    def factory(config: Config):
        try:
            return impl(config)
        except Unsupported as e:
            if seen is not None:
                seen[str(e)] += 1
            event(f"not supported: {e.knob}")
            reject()
    factory.capabilities = capabilities_of(impl)      # the machine adopts them
    return factory


def unsupported_lines(seen: Counter) -> list:
    """Report lines for the Configs skipped as not supported."""
    return [f"{msg}: {n} Config(s) skipped, not a bug" for msg, n in seen.most_common()]


# ============================================================================
# Command line and pytest
# ============================================================================


def add_impl_argument(parser) -> None:
    """``--impl MODULE:FACTORY`` on an argparse parser (resolve it with resolve_or_exit)."""
    parser.add_argument("--impl", default=None, metavar="MODULE:FACTORY|malloc:LIB[:PREFIX]",
                        help=f"the allocator under test: a factory taking a Config, e.g. "
                             f"examples.bump_alloc:make; a C library, e.g. malloc:system, "
                             f"malloc:libmimalloc.so.2, malloc:./libmy.so:my_; short names: "
                             f"{', '.join(SHORT_NAMES)} (default: ${ENV}, else fast)")


def resolve_or_exit(spec: str = None, stream=None) -> Impl:
    """load_impl, printing the banner; on ImplError print the message and exit 2."""
    stream = stream or sys.stderr
    try:
        impl = load_impl(spec)
    except ImplError as e:
        print(f"hakmem-fuzz: error: {e}", file=stream)
        sys.exit(EXIT_USAGE)
    print(banner(impl), file=stream)
    return impl


def machine_test(spec: str = None, config_strategy=None, name: str = "ImplMachine"):
    """A unittest TestCase running the lockstep machine on ``spec`` (for a test file:
    ``TestMine = machine_test("mymodule:make")``)."""
    from hakmem_verify.models.ref import RefAllocator
    from .machines import make_machine
    from .configs import configs
    impl = load_impl(spec)
    return make_machine(RefAllocator, skipping_unsupported(impl), config_strategy or configs,
                        name=name).TestCase
