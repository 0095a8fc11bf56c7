"""Install a packaged pipeline into a fresh, isolated virtualenv, as a user would, and classify
a review with it.

    python scripts/package_smoke_test.py MODEL_WHEEL_OR_DIR --find-links packages [--text "..."]
        [--venv DIR]

1. The model wheel must require spacy-lstm, and a spacy-lstm wheel must lie in the
   --find-links folder (scripts/package_model.py builds both into packages/).
2. A new virtualenv is created in a temporary folder (or --venv DIR: created there once and
   reused, its spacy-lstm and model package uninstalled first): nothing of this environment
   is visible in it. Its public dependencies (spaCy, TensorFlow, ... as the two wheels
   require them) are installed from the package index, at the versions installed here (a
   constraints file), so the test checks the packages rather than a release nobody trained
   with. Reusing a virtualenv saves downloading and installing TensorFlow every time.
3. The model wheel is installed with ``pip install --no-index --find-links DIR``: pip must
   find spacy-lstm in DIR, exactly as a user's ``pip install --find-links packages/ ...`` does.
4. In that environment, ``spacy.load("<package name>")`` classifies a review. The scores must
   be probabilities over the pipeline's labels, and spaCy, the model package and spacy-lstm
   must all have been imported from the new virtualenv.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import venv
import zipfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Dict, List

REVIEW = "A moving, beautifully acted film: the best thing I have seen all year."
PLUGIN = "spacy-lstm"

CHECK = r"""
import json, sys, spacy, spacy_lstm
nlp = spacy.load(sys.argv[1])
doc = nlp(sys.argv[2])
print(json.dumps({
    "cats": doc.cats,
    "paths": [str(spacy.util.get_package_path(sys.argv[1])), spacy.__file__, spacy_lstm.__file__],
    "sys_path": sys.path,
}))
"""


def canonical(name: str) -> str:
    return name.replace("_", "-").lower()


def find_wheel(path: Path) -> Path:
    if path.is_file():
        return path
    wheels = sorted(path.rglob("*.whl"))
    if not wheels:
        raise SystemExit(f"no wheel under {path}: run `spacy project run package` first")
    return wheels[-1]


def wheel_metadata(wheel: Path) -> Dict[str, List[str]]:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        text = zf.read(name).decode("utf8")
    fields: Dict[str, List[str]] = {}
    for line in text.splitlines():
        if not line.strip():
            break
        key, _, value = line.partition(": ")
        fields.setdefault(key, []).append(value)
    return fields


def requirement_name(requirement: str) -> str:
    for i, char in enumerate(requirement):
        if not (char.isalnum() or char in "-_."):
            return canonical(requirement[:i])
    return canonical(requirement)


def public_requirements(*wheels: Path) -> List[str]:
    """What the wheels require from the package index (everything but spacy-lstm itself;
    requirements behind an extra or an environment marker are left out)."""
    out = []
    for wheel in wheels:
        for requirement in wheel_metadata(wheel).get("Requires-Dist", []):
            if ";" not in requirement and requirement_name(requirement) != PLUGIN:
                out.append(requirement)
    return list(dict.fromkeys(out))


def constraints(requirements: List[str]) -> str:
    """Pin each requirement to the version installed here (those that are installed)."""
    lines = []
    for requirement in requirements:
        name = requirement_name(requirement)
        try:
            lines.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            continue
    return "\n".join(lines) + "\n"


def pip(python: Path, command: str, *args: str, isolated: bool = False) -> None:
    cmd = [sys.executable, "-m", "pip", "--python", str(python)] + (["--isolated"] if isolated else [])
    result = subprocess.run(cmd + [command, "--quiet", "--disable-pip-version-check", *args], capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"`pip {command} {' '.join(args)}` in the isolated virtualenv failed:\n{result.stdout}{result.stderr}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("wheel", type=Path, help="the model wheel, or a folder holding it")
    parser.add_argument("--find-links", type=Path, required=True, help="folder with the spacy-lstm wheel (packages/)")
    parser.add_argument("--text", default=REVIEW)
    parser.add_argument("--venv", default="", help="create the virtualenv here, or reuse it (default: a temporary one)")
    args = parser.parse_args()

    start = time.perf_counter()
    wheel = find_wheel(args.wheel)
    meta = wheel_metadata(wheel)
    package = meta["Name"][0]
    requires = meta.get("Requires-Dist", [])
    if not any(requirement_name(r) == PLUGIN for r in requires):
        raise SystemExit(f"{wheel.name} does not require {PLUGIN} (Requires-Dist: {requires})")
    plugin_wheels = sorted(args.find_links.glob("spacy_lstm-*.whl"))
    if not plugin_wheels:
        raise SystemExit(f"no spacy-lstm wheel in {args.find_links}: scripts/package_model.py builds it there")
    print(f"{wheel.name}: {package} {meta['Version'][0]}, requires {', '.join(requires)}")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.venv or Path(tmp) / "venv").resolve()
        python = root / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        if python.exists():
            pip(python, "uninstall", "--yes", PLUGIN, package, isolated=True)
            print(f"reusing the virtualenv at {root} (without its {PLUGIN} and {package})")
        else:
            venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(root)
        public = public_requirements(wheel, plugin_wheels[-1])
        pins = Path(tmp) / "constraints.txt"
        pins.write_text(constraints(public), encoding="utf8")
        pip(python, "install", "-c", str(pins), *public)
        print(f"installed the public dependencies into the virtualenv at {root}: {', '.join(public)}")
        pip(python, "install", "--no-index", "--find-links", str(args.find_links.resolve()), str(wheel.resolve()), isolated=True)
        print(f"installed {wheel.name} with spacy-lstm from {args.find_links} (--no-index)")
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
        env["TF_CPP_MIN_LOG_LEVEL"] = "2"
        module = package.replace("-", "_")
        result = subprocess.run([str(python), "-c", CHECK, module, args.text], env=env, capture_output=True, text=True, cwd=tmp)
        if result.returncode:
            raise SystemExit(f"loading {module} in the isolated virtualenv failed:\n{result.stderr[-3000:]}")
        out = json.loads(result.stdout.strip().splitlines()[-1])
    outside = [p for p in out["paths"] if not Path(p).resolve().is_relative_to(root)]
    if outside:
        raise SystemExit(f"imported from outside the isolated virtualenv {root}: {outside}")
    leaked = [p for p in out["sys_path"] if p and Path(sys.prefix).resolve() in Path(p).resolve().parents]
    if leaked:
        raise SystemExit(f"the isolated virtualenv sees this environment's packages: {leaked}")
    cats = out["cats"]
    if not cats or not all(0.0 <= v <= 1.0 for v in cats.values()):
        raise SystemExit(f"unexpected doc.cats from the installed package: {cats}")
    best = max(cats, key=cats.get)
    print(f"spacy.load({module!r}) in the isolated virtualenv: {args.text!r} -> {best} ({cats[best]:.3f}); {cats}")
    print(f"spaCy, {module} and spacy_lstm all came from the isolated virtualenv")
    print(f"smoke test passed in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
