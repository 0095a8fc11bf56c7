"""spaCy's own text-classifier tests, run against `lstm_textcat` / `lstm_textcat_multilabel`.

We promise spaCy's textcat contract, and spaCy's test-suite is the strongest evidence of it.
At test time this module reads the test files of the *installed* spaCy (so they follow the
user's spaCy version; nothing of spaCy's is copied into this repository), rewrites the factory
names `"textcat"` / `"textcat_multilabel"` to ours, writes the result into pytest's tmp dir and
runs it with pytest in a subprocess, with spaCy's own `conftest.py` fixtures (`en_vocab`, ...)
loaded as a plugin. Each generated test must pass, unless spaCy itself marks it skip/slow, or
it is in NOT_APPLICABLE below with the reason it does not apply.

The components run with their default architecture, whatever it is: compiling the TensorFlow
graphs, not the network's width, is what each training test spends its time on, and a narrow
LSTM does not reach spaCy's overfitting thresholds in spaCy's 50/100 updates.
"""
import ast
import io
import json
import os
import re
import subprocess
import sys
import tokenize
from pathlib import Path
from typing import Callable, Dict, List

import pytest
import spacy

SPACY_TESTS = Path(spacy.__file__).parent / "tests"
FACTORY_NAMES = {"textcat": "lstm_textcat", "textcat_multilabel": "lstm_textcat_multilabel"}
# A test "exercises a text classifier" when it names a textcat factory or spaCy's textcat
# classes/configs (the factory strings are already rewritten when this is applied).
MENTIONS_TEXTCAT = re.compile(r"""["']lstm_textcat(_multilabel)?["']|TextCategorizer|TEXTCAT""")

SPACY_ARCHITECTURE = "passes one of spaCy's own architectures in the component config; lstm_textcat runs an LSTM"
OURS = "tests/test_textcat.py::"
# spaCy's test file -> test function -> why it does not apply to lstm_textcat (and, where its
# intent does apply, which of our own tests checks it).
NOT_APPLICABLE: Dict[str, Dict[str, str]] = {
    "pipeline/test_textcat.py": {
        "test_issue3611": f"{SPACY_ARCHITECTURE} (docs shorter than the n-grams: "
        f"{OURS}test_fixed_seed_gives_identical_results)",
        "test_issue4030": f"{SPACY_ARCHITECTURE}; it also asserts spaCy's all-zero scores for a batch of only "
        "empty docs, where lstm_textcat scores an empty doc as it scores it in any batch "
        f"({OURS}test_empty_whitespace_and_huge_documents)",
        "test_issue5551": f"{SPACY_ARCHITECTURE} (determinism: {OURS}test_fixed_seed_gives_identical_results)",
        "test_no_resize": f"{SPACY_ARCHITECTURE} and asserts that those cannot add a label after initialize",
        "test_resize": f"{SPACY_ARCHITECTURE} (add_label after training: "
        f"{OURS}test_add_label_after_training_keeps_what_was_learned)",
        "test_resize_same_results": f"{SPACY_ARCHITECTURE}. Known gap: with exclusive classes a new label starts "
        "at logit 0, so the old labels' scores are renormalised; spaCy starts it at -5000 and keeps them exact",
        "test_tok2vec_lazy_init": f"{SPACY_ARCHITECTURE} around a lazily initialised tok2vec; ours has no tok2vec",
        "test_textcat_configs": f"{SPACY_ARCHITECTURE} (each of them in turn)",
        "test_textcat_loss": "asserts the values of spaCy's squared-error loss (0 and 0.125); lstm_textcat's loss "
        f"is cross-entropy (missing labels add nothing: {OURS}test_loss_is_a_mean_over_the_batch)",
        "test_issue9904": "pairs `examples * 2` (e0 e1 e0 e1) with `scores.repeat(2, axis=0)` (s0 s0 s1 s1), so "
        "it holds only while every doc gets the same scores, as from spaCy's untrained textcat (spaCy's own "
        f"fails it after 3 updates); the batch mean, scores aligned: {OURS}test_loss_is_a_mean_over_the_batch",
    },
    "serialize/test_serialize_pipeline.py": {
        "test_serialize_textcat_empty": "builds spaCy's TextCategorizer class around spaCy's default "
        "architecture; nothing of lstm_textcat runs",
    },
}


def select_all(segment: str) -> bool:
    return True


def select_textcat(segment: str) -> bool:
    return MENTIONS_TEXTCAT.search(segment) is not None


# suite -> (spaCy test files, which of their tests to keep)
SUITES: Dict[str, tuple] = {
    "textcat": (["pipeline/test_textcat.py"], select_all),
    "pipe_methods": (["pipeline/test_pipe_methods.py"], select_textcat),
    "serialize": ([f"serialize/{p.name}" for p in sorted(SPACY_TESTS.glob("serialize/test_*.py"))], select_textcat),
}
TIMEOUT_S = 600
SKIP_PREFIX = "does not apply to lstm_textcat: "


def rewrite_source(source: str, module: str) -> str:
    """spaCy's test source with our factory names and absolute imports.

    Only Python string literals that are exactly a factory name are rewritten: config text such
    as `pipeline = ["textcat"]` names a component, not a factory, and stays as it is.
    `module` is the dotted name of the source file, to resolve its relative imports."""
    lines = source.splitlines(keepends=True)
    edits = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        match = re.fullmatch(r"""(["'])(\w+)\1""", token.string) if token.type == tokenize.STRING else None
        if match and match.group(2) in FACTORY_NAMES:
            quote = match.group(1)
            edits.append((token.start, token.end, quote + FACTORY_NAMES[match.group(2)] + quote))
    for (row, start), (_, end), new in reversed(edits):  # string literals of one line only
        lines[row - 1] = lines[row - 1][:start] + new + lines[row - 1][end:]
    package = module.split(".")[:-1]

    def absolute(match: "re.Match") -> str:
        dots, rest = match.group(2), match.group(3)
        base = package[: len(package) - (len(dots) - 1)]
        return match.group(1) + ".".join(base + ([rest] if rest else [])) + match.group(4)

    return re.sub(r"^(\s*from\s+)(\.+)([\w.]*)(\s+import\b)", absolute, "".join(lines), flags=re.M)


def keep_tests(source: str, select: Callable[[str], bool]) -> tuple:
    """The source without the test functions/classes that `select` rejects, and the kept names."""
    lines = source.splitlines(keepends=True)
    kept, dropped = [], []
    for node in ast.parse(source).body:
        is_test = (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_")) or (
            isinstance(node, ast.ClassDef) and node.name.startswith("Test")
        )
        if not is_test:
            continue
        first = min([node.lineno] + [d.lineno for d in node.decorator_list])
        if select("".join(lines[first - 1 : node.end_lineno])):
            kept.append(node.name)
        else:
            dropped.append((first, node.end_lineno))
    for first, last in reversed(dropped):
        del lines[first - 1 : last]
    return "".join(lines), kept


def generated_name(spacy_file: str) -> str:
    """`pipeline/test_textcat.py` -> `test_spacy_textcat.py`."""
    return "test_spacy_" + Path(spacy_file).name[len("test_") :]


def generate(out_dir: Path) -> Dict[str, List[str]]:
    """Write the rewritten spaCy test files into out_dir; suite -> generated file names."""
    suites = {}
    for suite, (files, select) in SUITES.items():
        suites[suite] = []
        for spacy_file in files:
            module = "spacy.tests." + spacy_file[: -len(".py")].replace("/", ".")
            source = rewrite_source((SPACY_TESTS / spacy_file).read_text(encoding="utf8"), module)
            source, kept = keep_tests(source, select)
            if kept:
                name = generated_name(spacy_file)
                header = f"# Generated from {SPACY_TESTS / spacy_file} (spaCy {spacy.__version__}) by {__file__}\n"
                (out_dir / name).write_text(header + source, encoding="utf8")
                suites[suite].append(name)
    return suites


@pytest.fixture(scope="module")
def spacy_suite(tmp_path_factory):
    """Generate every suite and run them in ONE pytest subprocess (TensorFlow starts once)."""
    out_dir = tmp_path_factory.mktemp("spacy_suite")
    suites = generate(out_dir)
    spec = out_dir / "spec.json"
    exclusions = {
        generated_name(file): {test: SKIP_PREFIX + why for test, why in tests.items()}
        for file, tests in NOT_APPLICABLE.items()
    }
    spec.write_text(json.dumps({"exclusions": exclusions, "results": str(out_dir / "results.json")}))
    (out_dir / "pytest.ini").write_text("[pytest]\n")  # no pytest config from outside out_dir
    python_path = [str(Path(__file__).parent)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(python_path))  # for -p spacy_suite_plugin
    command = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "--import-mode=importlib"]
    command += ["-c", str(out_dir / "pytest.ini"), "--rootdir", str(out_dir), "-p", "spacy.tests.conftest"]
    command += ["-p", "spacy_suite_plugin", "--spacy-suite-spec", str(spec)]
    command += [name for names in suites.values() for name in names]
    try:
        proc = subprocess.run(command, cwd=out_dir, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"spaCy's tests against lstm_textcat did not finish in {TIMEOUT_S}s:\n{str(err.stdout)[-4000:]}")
    results = out_dir / "results.json"
    assert results.exists(), f"the pytest subprocess wrote no results:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return {"suites": suites, "output": proc.stdout, **json.loads(results.read_text())}


def expected_outcomes(nodeid: str, spacy_marks: List[str]) -> tuple:
    file, _, test = nodeid.partition("::")
    excluded = [names for spacy_file, names in NOT_APPLICABLE.items() if generated_name(spacy_file) == file]
    if excluded and test.split("[")[0] in excluded[0]:
        return ("skipped",)
    if spacy_marks:  # spaCy's own skip/skipif/slow/xfail
        return ("passed", "skipped", "xfailed", "xpassed")
    return ("passed",)


@pytest.mark.parametrize("suite", list(SUITES))
def test_spacy_tests_pass_against_lstm_textcat(suite, spacy_suite):
    """Every generated test of the suite passes, or is skipped for a documented reason."""
    files = spacy_suite["suites"][suite]
    assert files, f"no test in spaCy's {SUITES[suite][0]} exercises a text classifier: is the selection out of date?"
    results = {nodeid: r for nodeid, r in spacy_suite["results"].items() if nodeid.split("::")[0] in files}
    problems = []
    for nodeid, result in sorted(results.items()):
        expected = expected_outcomes(nodeid, spacy_suite["spacy_marks"].get(nodeid))
        if result["outcome"] not in expected:
            problems.append(f"{nodeid}: {result['outcome']}, expected {' or '.join(expected)}\n{result['details']}")
        elif expected == ("skipped",) and not result["details"].startswith(f"Skipped: {SKIP_PREFIX}"):
            problems.append(f"{nodeid}: skipped, but not as not applicable: {result['details']}")
    assert not problems, "\n\n".join(problems)
    assert any(r["outcome"] == "passed" for r in results.values()), f"nothing ran:\n{spacy_suite['output'][-4000:]}"


def test_not_applicable_list_names_existing_tests(spacy_suite):
    """A test spaCy renamed or dropped must leave the exclusion list too."""
    assert spacy_suite["unused_exclusions"] == []


def test_rewrite_renames_factories_only():
    source = (
        "from ..util import make_tempdir\n"
        "from . import helpers\n"
        'nlp.add_pipe("textcat"); nlp.add_pipe(\'textcat_multilabel\')\n'
        'CONFIG = """\\npipeline = ["textcat"]\\n"""\n'
        'losses["textcat"] < 0.01; "spacy.textcat_scorer.v2"\n'
    )
    rewritten = rewrite_source(source, "spacy.tests.pipeline.test_textcat")
    assert rewritten == (
        "from spacy.tests.util import make_tempdir\n"
        "from spacy.tests.pipeline import helpers\n"
        'nlp.add_pipe("lstm_textcat"); nlp.add_pipe(\'lstm_textcat_multilabel\')\n'
        'CONFIG = """\\npipeline = ["textcat"]\\n"""\n'
        'losses["lstm_textcat"] < 0.01; "spacy.textcat_scorer.v2"\n'
    )


def test_keep_tests_drops_unrelated_tests_with_their_decorators():
    source = (
        "import pytest\n\n"
        "@pytest.mark.parametrize('x', [1])\n"
        "def test_tagger(x):\n    nlp.add_pipe('tagger')\n\n"
        "def test_textcat():\n    nlp.add_pipe('lstm_textcat')\n\n"
        "def helper():\n    pass\n"
    )
    kept_source, kept = keep_tests(source, select_textcat)
    assert kept == ["test_textcat"]
    assert "test_tagger" not in kept_source and "parametrize" not in kept_source
    assert "def helper" in kept_source
