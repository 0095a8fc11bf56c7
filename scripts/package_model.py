"""Build an installable wheel of a trained pipeline, and the spacy-lstm wheel it depends on.

    python scripts/package_model.py MODEL OUTPUT_DIR --name lstm_reviews --version 0.1.0
        [--plugin-source DIR]

Runs ``spacy package MODEL OUTPUT_DIR --build wheel`` with a meta.json whose
``requirements`` name ``spacy-lstm`` explicitly (``spacy-lstm>=X.Y.0,<X.(Y+1).0`` for the
installed version X.Y.Z). spaCy would usually find the plugin on its own (from the
registered factories), but a pipeline without spacy-lstm cannot even be loaded, so the
requirement is not left to that guess. The wheel lands in
``OUTPUT_DIR/<lang>_<name>-<version>/dist/``.

spacy-lstm is not on a public package index, so the model wheel is only installable next to
a spacy-lstm wheel: this script also builds that one into OUTPUT_DIR (``pip wheel`` of the
source folder spacy-lstm was installed from, or of --plugin-source). A user then runs
``pip install --find-links OUTPUT_DIR MODEL_WHEEL``; ``scripts/package_smoke_test.py`` does
exactly that in a fresh virtualenv.
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional
from urllib.parse import unquote, urlparse


def plugin_requirement() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        major, minor = version("spacy-lstm").split(".")[:2]
    except PackageNotFoundError:
        raise SystemExit("spacy-lstm is not installed in this environment: run `pip install -e .` first")
    return f"spacy-lstm>={major}.{minor}.0,<{major}.{int(minor) + 1}.0"


def plugin_source(given: Optional[Path]) -> Path:
    """The spacy-lstm source folder: --plugin-source, or the folder it was installed from
    (``pip install -e .`` or ``pip install .`` record it in direct_url.json; an editable
    install by an older pip leaves an egg-info in the source folder instead, which is then
    the metadata found, so the imported package's own folder is the last resort)."""
    from importlib.metadata import distribution

    import spacy_lstm

    if given is not None:
        return given
    info = json.loads(distribution("spacy-lstm").read_text("direct_url.json") or "{}")
    url = urlparse(info.get("url", ""))
    if "dir_info" in info and url.scheme == "file" and Path(unquote(url.path), "setup.py").is_file():
        return Path(unquote(url.path))
    checkout = Path(spacy_lstm.__file__).resolve().parent.parent
    if (checkout / "setup.py").is_file() and (checkout / "spacy_lstm").is_dir():
        return checkout
    raise SystemExit(
        "spacy-lstm was not installed from a source folder, so its wheel cannot be built here: "
        "pass --plugin-source with a checkout of spacy-lstm"
    )


def build_plugin_wheel(source: Path, output_dir: Path) -> Path:
    for old in output_dir.glob("spacy_lstm-*.whl"):
        old.unlink()
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", str(output_dir), str(source)]
    if subprocess.run(cmd).returncode:
        raise SystemExit(f"building the spacy-lstm wheel from {source} failed")
    wheels = sorted(output_dir.glob("spacy_lstm-*.whl"))
    if not wheels:
        raise SystemExit(f"pip wheel made no spacy-lstm wheel in {output_dir}")
    return wheels[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("output_dir", type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--plugin-source", type=Path, default=None, help="spacy-lstm checkout to build the plugin wheel from")
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
    plugin = build_plugin_wheel(plugin_source(args.plugin_source), args.output_dir)
    print(f"wheel: {plugin} (install the model with: pip install --find-links {args.output_dir} {wheels[-1]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
