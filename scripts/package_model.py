"""Build an installable wheel of a trained pipeline that depends on spacy-lstm.

    python scripts/package_model.py MODEL OUTPUT_DIR --name lstm_reviews --version 0.1.0

Runs ``spacy package MODEL OUTPUT_DIR --build wheel`` with a meta.json whose
``requirements`` name ``spacy-lstm`` explicitly (``spacy-lstm>=X.Y.0,<X.(Y+1).0`` for the
installed version X.Y.Z). spaCy would usually find the plugin on its own (from the
registered factories), but a pipeline without spacy-lstm cannot even be loaded, so the
requirement is not left to that guess. The wheel lands in
``OUTPUT_DIR/<lang>_<name>-<version>/dist/``; ``scripts/package_smoke_test.py`` installs it.
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path


def plugin_requirement() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        major, minor = version("spacy-lstm").split(".")[:2]
    except PackageNotFoundError:
        raise SystemExit("spacy-lstm is not installed in this environment: run `pip install -e .` first")
    return f"spacy-lstm>={major}.{minor}.0,<{major}.{int(minor) + 1}.0"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("output_dir", type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--version", required=True)
    args = parser.parse_args()

    meta_path = args.model / "meta.json"
    if not meta_path.is_file():
        raise SystemExit(f"{meta_path} not found: train the pipeline first (`spacy project run train`)")
    meta = json.loads(meta_path.read_text(encoding="utf8"))
    requirement = plugin_requirement()
    kept = [r for r in meta.get("requirements", []) if not r.replace("_", "-").lower().startswith("spacy-lstm")]
    meta["requirements"] = [requirement] + kept
    meta["name"] = args.name
    meta["version"] = args.version
    meta.setdefault("description", "Review classifier: a Keras 3 LSTM (spacy-lstm's lstm_textcat)")
    args.output_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        override = Path(tmp) / "meta.json"
        override.write_text(json.dumps(meta, indent=2), encoding="utf8")
        cmd = [
            sys.executable, "-m", "spacy", "package", str(args.model), str(args.output_dir),
            "--meta-path", str(override), "--name", args.name, "--version", args.version,
            "--build", "wheel", "--force",
        ]
        code = subprocess.run(cmd).returncode
    if code:
        return code
    package = f"{meta['lang']}_{args.name}-{args.version}"
    wheels = sorted((args.output_dir / package / "dist").glob("*.whl"))
    if not wheels:
        raise SystemExit(f"spacy package made no wheel in {args.output_dir / package / 'dist'}")
    print(f"wheel: {wheels[-1]} (requires {requirement})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
