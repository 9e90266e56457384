"""Assemble bench/quality/corpus/ from documentation packaged on a Debian machine.

Run once by hand (`python -m bench.quality.build_corpus`); the copies and manifest.json are
committed, so the evaluation never depends on what a machine happens to have installed. Each
document is copied verbatim (man pages rendered to plain text by man(1), the way a user would
paste them), with its source and licence in the manifest.
"""

from __future__ import annotations

import email
import gzip
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

CORPUS = Path(__file__).parent / "corpus"
SITE = Path(sysconfig.get_paths()["purelib"])

# (file name, kind of document, format, source, licence)
DOCUMENTS = [
    ("gitfaq.txt", "faq", "text", "man:gitfaq(7)", "GPL-2.0-only"),
    ("gitcore-tutorial.txt", "tutorial", "text", "man:gitcore-tutorial(7)", "GPL-2.0-only"),
    ("ssh.txt", "man page", "text", "man:ssh(1)", "BSD-2-Clause (OpenSSH)"),
    ("ssh-keygen.txt", "man page", "text", "man:ssh-keygen(1)", "BSD-2-Clause (OpenSSH)"),
    ("zlib_how.html", "guide", "html", "/usr/share/doc/zlib1g-dev/examples/zlib_how.html", "Zlib"),
    ("libffi-basics.html", "manual chapter", "html",
     "/usr/share/doc/libffi8/html/The-Basics.html", "MIT (Expat)"),
    ("libffi-closures.html", "manual chapter", "html",
     "/usr/share/doc/libffi8/html/The-Closure-API.html", "MIT (Expat)"),
    ("users-and-groups.html", "reference", "html",
     "/usr/share/doc/base-passwd/users-and-groups.html", "GPL-2.0-or-later"),
    ("redis-readme.md", "readme", "markdown", "/usr/share/doc/redis-server/README.md.gz",
     "BSD-3-Clause"),
    ("urllib3-readme.md", "readme", "markdown", "site-packages:urllib3", "MIT"),
    ("structlog-readme.md", "readme", "markdown", "site-packages:structlog",
     "MIT OR Apache-2.0"),
    ("markdown-it-py-readme.md", "readme", "markdown", "site-packages:markdown-it-py", "MIT"),
]  # fmt: skip


def _read(source: str) -> str:
    if source.startswith("man:"):
        page, section = source[4:].rstrip(")").split("(")
        env = {**os.environ, "MANWIDTH": "80", "MAN_KEEP_FORMATTING": "0"}
        out = subprocess.run(
            ["man", "--nh", "--nj", section, page],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout
        # col -b: drop the overstrike bold/underline a terminal would show.
        return subprocess.run(["col", "-bx"], input=out, capture_output=True, text=True).stdout
    if source.startswith("site-packages:"):
        name = source.split(":", 1)[1].replace("-", "_").lower()
        (info,) = (p for p in SITE.glob("*.dist-info") if p.name.lower().startswith(name + "-"))
        message = email.message_from_string((info / "METADATA").read_text(encoding="utf-8"))
        body = message.get_payload()
        assert isinstance(body, str)
        return body
    path = Path(source)
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return raw.decode("utf-8", errors="replace")


# Where each document's copyright and licence text is: Debian's copyright file of the
# package that ships it, or the licence files in the wheel's metadata.
_LICENCE_FILES = {
    "man:gitfaq(7)": ["/usr/share/doc/git/copyright"],
    "man:gitcore-tutorial(7)": ["/usr/share/doc/git/copyright"],
    "man:ssh(1)": ["/usr/share/doc/openssh-client/copyright"],
    "man:ssh-keygen(1)": ["/usr/share/doc/openssh-client/copyright"],
}


def _licence_files(source: str) -> list[Path]:
    if source in _LICENCE_FILES:
        return [Path(p) for p in _LICENCE_FILES[source]]
    if source.startswith("site-packages:"):
        name = source.split(":", 1)[1].replace("-", "_").lower()
        (info,) = (p for p in SITE.glob("*.dist-info") if p.name.lower().startswith(name + "-"))
        return sorted(p for p in info.rglob("*") if p.is_file() and "licen" in str(p).lower())
    package = Path(source).parts[4]  # /usr/share/doc/<package>/...
    return [Path("/usr/share/doc") / package / "copyright"]


def main() -> int:
    CORPUS.mkdir(exist_ok=True)
    licences = CORPUS / "licences"
    licences.mkdir(exist_ok=True)
    manifest = []
    for name, kind, fmt, source, licence in DOCUMENTS:
        (CORPUS / name).write_text(_read(source), encoding="utf-8")
        copied = []
        for path in _licence_files(source):
            target = licences / f"{Path(name).stem}.{path.name}"
            target.write_bytes(path.read_bytes())
            copied.append(f"licences/{target.name}")
        manifest.append(
            {"file": name, "kind": kind, "format": fmt, "source": source, "licence": licence,
             "licence_files": copied}
        )  # fmt: skip
    (CORPUS / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"{len(manifest)} documents in {CORPUS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
