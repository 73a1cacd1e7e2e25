"""The model library (lsntp/) stands on its own: no module of it, tests included, imports the study
(lsntp_study/), which is built on top of it. Read from the source with ast, so an import inside a
function counts as much as one at the top."""
import ast
import glob
import os

LIBRARY = os.path.dirname(os.path.abspath(__file__))
STUDY = "lsntp_study"


def study_imports(source: str) -> list[tuple[int, str]]:
    """(line, module) of every import of the study package in a module's source: `import lsntp_study`,
    `import lsntp_study.x`, `from lsntp_study(.x) import ...`, and `importlib.import_module` or
    `__import__` with a literal name."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str) \
                and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__"):
            names = [node.args[0].value]
        found += [(node.lineno, n) for n in names if n == STUDY or n.startswith(STUDY + ".")]
    return found


def test_the_scan_finds_every_form_of_import():
    src = ("import os\nfrom lsntp import data\nimport lsntp_study\nfrom lsntp_study.comparison import systems\n"
           "def f():\n    import lsntp_study.zoo as z\n    importlib.import_module('lsntp_study.queue')\n"
           "import lsntp_studyish\n")
    assert study_imports(src) == [(3, "lsntp_study"), (4, "lsntp_study.comparison"), (6, "lsntp_study.zoo"),
                                  (7, "lsntp_study.queue")]


def test_the_library_never_imports_the_study():
    files = glob.glob(os.path.join(LIBRARY, "**", "*.py"), recursive=True)
    assert len(files) > 30  # the whole library was read, not an empty folder
    offending = [f"{os.path.relpath(f, LIBRARY)}:{line}: {name}"
                 for f in sorted(files) for line, name in study_imports(open(f).read())]
    assert offending == [], "the library imports the study: " + "; ".join(offending)
