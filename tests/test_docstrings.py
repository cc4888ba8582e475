"""Every public docstring example runs and prints what it shows (doctest),
and every optimizer documents its math, its arguments and a reference."""
import doctest
import importlib
import inspect
import pkgutil

import pytest

import fastopt

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(fastopt.__path__, "fastopt.")
    if not m.name.split(".")[-1].startswith("_") and ".bench" not in m.name and not m.name.endswith("__main__")
)


@pytest.mark.parametrize("name", ["fastopt"] + MODULES)
def test_doctests(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, name):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} doctest example(s) failed in {name}"


OPTIMIZERS = [getattr(fastopt, n) for n in fastopt.__all__
              if inspect.isclass(getattr(fastopt, n)) and issubclass(getattr(fastopt, n), fastopt.Optimizer)
              and getattr(fastopt, n) is not fastopt.Optimizer]


@pytest.mark.parametrize("cls", OPTIMIZERS, ids=lambda c: c.__name__)
def test_optimizer_docstring_complete(cls):
    doc = cls.__doc__ or ""
    assert ".. math::" in doc, "the update rule in math"
    assert "Args:" in doc and "(default:" in doc
    assert ">>>" in doc, "a runnable example"
    assert "References:" in doc or "Reference" in doc
    params = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "params")]
    for p in params:
        assert f"{p}:" in doc, f"argument {p!r} is not documented"
