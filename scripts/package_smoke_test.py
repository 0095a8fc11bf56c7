"""Install a packaged pipeline's wheel into a fresh virtualenv and classify a review with it.

    python scripts/package_smoke_test.py WHEEL_OR_DIR [--text "..."] [--keep DIR]

1. The wheel's metadata must require spacy-lstm (else the package is unusable elsewhere).
2. A new virtualenv is created in a temporary folder. It sees the *current* environment's
   packages (spaCy, TensorFlow, spacy-lstm: whether installed normally or with
   ``pip install -e .``) through a ``.pth`` file, like ``--system-site-packages`` would for a
   non-virtualenv Python; so nothing is downloaded and it takes seconds, not a reinstall of
   TensorFlow. The wheel itself is installed into the new environment with
   ``pip install --no-index`` (offline: pip must find spacy-lstm and spaCy already there,
   which is exactly the dependency check we want).
3. In that environment, ``spacy.load("<package name>")`` (the installed package, not the
   training folder) classifies a review, and the scores must be a probability distribution
   over the pipeline's labels (each score in [0, 1]).
"""
import argparse
import json
import os
import site
import subprocess
import sys
import sysconfig
import tempfile
import time
import venv
import zipfile
from pathlib import Path

REVIEW = "A moving, beautifully acted film: the best thing I have seen all year."

CHECK = r"""
import json, sys, spacy
nlp = spacy.load(sys.argv[1])
doc = nlp(sys.argv[2])
origin = spacy.util.get_package_path(sys.argv[1])
print(json.dumps({"cats": doc.cats, "pipeline": nlp.pipe_names, "path": str(origin)}))
"""


def find_wheel(path: Path) -> Path:
    if path.is_file():
        return path
    wheels = sorted(path.rglob("*.whl"))
    if not wheels:
        raise SystemExit(f"no wheel under {path}: run `spacy project run package` first")
    return wheels[-1]


def wheel_metadata(wheel: Path):
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        text = zf.read(name).decode("utf8")
    fields = {}
    for line in text.splitlines():
        if not line.strip():
            break
        key, _, value = line.partition(": ")
        fields.setdefault(key, []).append(value)
    return fields


def parent_site_dirs():
    dirs = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    dirs += site.getsitepackages() + [site.getusersitepackages()]
    return [d for d in dict.fromkeys(dirs) if d and Path(d).is_dir()]


def make_env(root: Path) -> Path:
    venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(root)
    python = root / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    # A .pth line starting with "import" is executed: addsitedir also processes the parent
    # environment's own .pth files (editable installs). Appended after the venv's own
    # site-packages, so the freshly installed wheel wins over anything of the same name.
    lines = [f"import site; site.addsitedir({d!r})" for d in parent_site_dirs()]
    Path(purelib, "_parent_env.pth").write_text("\n".join(lines) + "\n", encoding="utf8")
    return python


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("wheel", type=Path, help="the wheel, or a folder holding it (e.g. packages/)")
    parser.add_argument("--text", default=REVIEW)
    parser.add_argument("--keep", type=Path, default=None, help="create the virtualenv here and keep it")
    args = parser.parse_args()

    start = time.perf_counter()
    wheel = find_wheel(args.wheel)
    meta = wheel_metadata(wheel)
    package = meta["Name"][0]
    requires = meta.get("Requires-Dist", [])
    if not any(r.replace("_", "-").lower().startswith("spacy-lstm") for r in requires):
        raise SystemExit(f"{wheel.name} does not require spacy-lstm (Requires-Dist: {requires})")
    print(f"{wheel.name}: {package} {meta['Version'][0]}, requires {', '.join(requires)}")

    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp) / "venv"
        python = make_env(root)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
        env["TF_CPP_MIN_LOG_LEVEL"] = "2"
        pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-index", "--quiet", "--disable-pip-version-check", str(wheel)]
        result = subprocess.run(pip, env=env, capture_output=True, text=True)
        if result.returncode:
            raise SystemExit(f"installing {wheel.name} into a fresh virtualenv failed:\n{result.stdout}{result.stderr}")
        print(f"installed into a fresh virtualenv at {root}")
        module = package.replace("-", "_")
        result = subprocess.run([str(python), "-c", CHECK, module, args.text], env=env, capture_output=True, text=True, cwd=tmp)
        if result.returncode:
            raise SystemExit(f"loading {module} in the fresh virtualenv failed:\n{result.stderr[-3000:]}")
        out = json.loads(result.stdout.strip().splitlines()[-1])
    cats = out["cats"]
    if not str(Path(out["path"]).resolve()).startswith(str(Path(root).resolve())) and not args.keep:
        raise SystemExit(f"{module} was loaded from {out['path']}, not from the fresh virtualenv")
    if not cats or not all(0.0 <= v <= 1.0 for v in cats.values()):
        raise SystemExit(f"unexpected doc.cats from the installed package: {cats}")
    best = max(cats, key=cats.get)
    print(f"spacy.load({module!r}) in the fresh virtualenv: {args.text!r} -> {best} ({cats[best]:.3f}); {cats}")
    print(f"smoke test passed in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
