"""pytest plugin for the generated copies of spaCy's own tests (see test_spacy_suite.py).

It is loaded with `-p spacy_suite_plugin` in the pytest subprocess that runs the generated
files, and reads what to do from the JSON file given as `--spacy-suite-spec`:

- tests that do not apply to `lstm_textcat` are skipped with the reason the spec gives;
- a parametrized test whose parameters name our factories keeps only those cases (spaCy's
  `test_pipe_base_class_add_label[ner]` tests spaCy's NER, not us);
- every test's outcome, and whether spaCy itself marks it skip/slow/xfail, is written to the
  results file, so the calling test can assert on each test by name.
"""
import json
from pathlib import Path
from typing import Dict, List

import pytest

FACTORIES = {"lstm_textcat", "lstm_textcat_multilabel"}
SPACY_OWN_MARKS = {"skip", "skipif", "slow", "xfail"}  # spaCy's own reasons not to run a test


def pytest_addoption(parser):
    parser.addoption("--spacy-suite-spec", required=True, help="JSON: exclusions and results path")


def pytest_configure(config):
    # spaCy registers these markers in its own setup.cfg, which an installed spaCy lacks.
    config.addinivalue_line("markers", "issue(number): spaCy's reference to a GitHub issue")
    config.addinivalue_line("markers", "slow: spaCy's slow tests, run with --slow")
    spec = json.loads(Path(config.getoption("--spacy-suite-spec")).read_text(encoding="utf8"))
    config.pluginmanager.register(SuiteRecorder(spec), "spacy_suite_recorder")


class SuiteRecorder:
    def __init__(self, spec: dict):
        self.exclusions: Dict[str, Dict[str, str]] = spec["exclusions"]  # file -> test -> why
        self.results_path = Path(spec["results"])
        self.results: Dict[str, dict] = {}
        self.spacy_marks: Dict[str, List[str]] = {}
        self.used_exclusions = set()
        self.deselected: List[str] = []

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config, items):
        keep = [item for item in items if self._applies(item, items)]
        deselected = [item for item in items if item not in keep]
        if deselected:
            config.hook.pytest_deselected(items=deselected)
            self.deselected = [item.nodeid for item in deselected]
        items[:] = keep
        for item in items:
            self.spacy_marks[item.nodeid] = sorted({m.name for m in item.iter_markers()} & SPACY_OWN_MARKS)
            name = getattr(item, "originalname", item.name)
            reason = self.exclusions.get(item.path.name, {}).get(name)
            if reason is not None:
                self.used_exclusions.add(f"{item.path.name}::{name}")
                item.add_marker(pytest.mark.skip(reason=reason))

    @staticmethod
    def _applies(item, items) -> bool:
        """False for the cases of a test parametrized over spaCy components that are not ours."""
        if _names_factory(item):
            return True
        name = getattr(item, "originalname", None)
        siblings = [i for i in items if i.parent is item.parent and getattr(i, "originalname", None) == name]
        return not any(_names_factory(i) for i in siblings)

    def pytest_collectreport(self, report):
        if report.failed:
            self.results[report.nodeid] = {"outcome": "collect-error", "details": str(report.longrepr)[-4000:]}

    def pytest_runtest_logreport(self, report):
        result = self.results.setdefault(report.nodeid, {"outcome": "passed", "details": ""})
        if hasattr(report, "wasxfail"):
            result["outcome"] = "xfailed" if report.skipped else "xpassed"
        elif report.failed:
            result["outcome"] = "failed" if report.when == "call" else f"error in {report.when}"
            result["details"] = str(report.longrepr)[-4000:]
        elif report.skipped:
            result["outcome"] = "skipped"
            longrepr = report.longrepr
            result["details"] = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)

    def pytest_sessionfinish(self, session):
        all_exclusions = {f"{file}::{name}" for file, names in self.exclusions.items() for name in names}
        self.results_path.write_text(
            json.dumps(
                {
                    "results": self.results,
                    "spacy_marks": self.spacy_marks,
                    "deselected": self.deselected,
                    "unused_exclusions": sorted(all_exclusions - self.used_exclusions),
                },
                indent=1,
            ),
            encoding="utf8",
        )


def _names_factory(item) -> bool:
    callspec = getattr(item, "callspec", None)
    return callspec is not None and any(
        isinstance(value, str) and value in FACTORIES for value in callspec.params.values()
    )
