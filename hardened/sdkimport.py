"""The AWS SDK's service packages loaded a class at a time during a render.

``pulumi_aws`` makes each service package (``pulumi_aws.ec2``, ``pulumi_aws.s3``, ...) a lazy
module (pulumi ``sdk/python/lib/pulumi/_utils.py``, ``lazy_import`` and ``_LazyModule``): the
first attribute read runs the package's ``__init__.py``, which star-imports every module of the
service (``from .vpc import *`` for each of ec2's 180 resources and functions) before it returns
the one class asked for. A prod render uses a dozen of them, and importing the rest was a fifth
of the render's imports.

:func:`lean_service_packages` gives each service package that is still lazy a loader that runs
no ``__init__.py``: a class is read from the module the package's own star import takes it from
(``Vpc`` and ``VpcArgs`` from ``vpc.py``, ``get_cluster`` from ``get_cluster.py``: Pulumi's code
generator names a resource's module after it), else from the package's ``_inputs`` or
``_enums``. Whatever that does not find (any other name, ``__all__``, a star import of the
package) runs the real ``__init__.py`` first, so the package ends as it would have: every name
is the very object the star imports bind (tests/speed/test_render_pipeline.py compares them).
"""
from __future__ import annotations

import importlib
import re
import sys
import types
from typing import Any, Iterable, Optional

#: The packages whose service packages are loaded a class at a time.
PACKAGES = ("pulumi_aws",)

_WORD = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def module_name(name: str) -> str:
    """The module Pulumi's Python code generator writes *name* into: ``VpcEndpoint`` ->
    ``vpc_endpoint``, ``OpenIdConnectProvider`` -> ``open_id_connect_provider``,
    ``get_cluster`` -> ``get_cluster`` (a guess: :class:`_LeanPackageLoader` checks it)."""
    return _WORD.sub("_", name).lower()


class _LeanPackageLoader:
    """The loader of a service package that runs no ``__init__.py`` until a name needs it."""

    def __init__(self, loader: Any):
        self.loader = loader

    def create_module(self, spec: Any) -> Optional[types.ModuleType]:
        return self.loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        package = module.__name__
        real = self.loader

        def complete() -> None:
            """Run the package's own ``__init__.py`` (every module it star-imports)."""
            module.__dict__.pop("__getattr__", None)
            module.__spec__.loader = real
            real.exec_module(module)

        def submodule(name: str) -> Optional[types.ModuleType]:
            try:
                return importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError as e:
                if e.name != f"{package}.{name}":
                    raise
                return None

        def resolve(name: str) -> Any:
            if not name.startswith("__"):
                guess = module_name(name[:-4] if name.endswith("Args") else name)
                for candidate in dict.fromkeys((guess, "_inputs", "_enums")):
                    source = submodule(candidate)
                    if source is None:
                        continue
                    exported = getattr(source, "__all__", None)
                    if (exported is None or name in exported) and name in vars(source):
                        value = vars(source)[name]
                        setattr(module, name, value)
                        return value
                    if candidate == name:   # a module of the package (``from . import outputs``)
                        return source
            if "__getattr__" in module.__dict__:
                complete()
            try:
                return module.__dict__[name]
            except KeyError:
                raise AttributeError(f"module {package!r} has no attribute {name!r}") from None

        module.__getattr__ = resolve  # type: ignore[method-assign]


def lean_service_packages(packages: Iterable[str] = PACKAGES) -> list[str]:
    """Import *packages* (those installed) and give each of their service packages that is still
    lazy the lean loader; the names of those it changed."""
    changed = []
    for package in packages:
        try:
            importlib.import_module(package)
        except ImportError:
            continue
        prefix = package + "."
        for name, module in list(sys.modules.items()):
            if not name.startswith(prefix) or name.count(".") != 1:
                continue
            if type(module).__name__ != "_LazyModule":
                continue
            spec = module.__spec__   # an introspection attribute: reading it loads nothing
            if spec is None or spec.loader is None or isinstance(spec.loader, _LeanPackageLoader) \
                    or not spec.submodule_search_locations:
                continue
            spec.loader = _LeanPackageLoader(spec.loader)
            changed.append(name)
    return changed
