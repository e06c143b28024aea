"""The browser files the app's page loads, made available without a CDN.

Solara's page loads its JavaScript and CSS (the Vuetify app bundle, require.js, Font Awesome,
the grid layout) through a proxy that fetches them from a public CDN on first use and caches
them under ``settings.assets.proxy_cache_dir``. On a machine that cannot reach that CDN the
page stays blank. :func:`ensure` fills the cache from the npm registry instead, with the
ordinary ``npm pack`` client, once per environment; the packages and exact versions are read
from the installed solara's page template, so a solara upgrade fetches what it needs.

Run it by hand with ``python -m sim.viz_assets``; ``sim viz`` calls it when files are missing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

#: loaded later by the page's require.js, not named in the template (found by watching the page)
LAZY = ("@widgetti/vue-grid-layout@2.3.13-alpha.2",)
_SPEC = re.compile(r"\{\{\s*cdn\s*\}\}/((?:@[\w.-]+/)?[\w.-]+@\d[\w.+-]*)/")


def cache_dir() -> Path:
    from solara.server import settings

    return Path(settings.assets.proxy_cache_dir)


def required() -> list[str]:
    """npm specs (``name@version``) the installed solara's page loads through its CDN proxy."""
    import solara.server
    from solara.server import settings

    template = Path(solara.server.__file__).parent / "templates" / "solara.html.j2"
    specs = set(_SPEC.findall(template.read_text(encoding="utf-8")))
    fa = settings.assets.fontawesome_path.strip("/").split("/")[0]
    if settings.assets.fontawesome_enabled and "@" in fa:
        specs.add(fa)
    return sorted(specs | set(LAZY))


def missing(root: Path | None = None) -> list[str]:
    """The specs of :func:`required` not yet in the cache."""
    root = cache_dir() if root is None else root
    return [s for s in required() if not (root / s / "package.json").is_file()]


def fetch(specs: list[str], root: Path | None = None, log=print) -> None:
    """Download ``specs`` with ``npm pack`` and unpack each into ``root/<name>@<version>/``.

    Raises:
        RuntimeError: npm is not installed or a download failed (the message says which).
    """
    root = cache_dir() if root is None else root
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed, and the app's browser files are missing: install npm "
                           "(apt-get install npm) or give the machine access to cdn.jsdelivr.net")
    with tempfile.TemporaryDirectory() as tmp:
        log(f"sim viz: fetching the app's browser files once ({', '.join(specs)}) with npm pack ...")
        proc = subprocess.run([npm, "pack", "--silent", "--pack-destination", tmp, *specs], capture_output=True,
                              text=True, timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"npm pack failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
        tarballs = sorted(Path(tmp).glob("*.tgz"))
        for spec in specs:
            name, _, version = spec.rpartition("@")
            stem = f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"
            tgz = next((t for t in tarballs if t.name == stem), None)
            if tgz is None:
                raise RuntimeError(f"npm pack did not produce {stem} for {spec}")
            dest = root / spec
            part = Path(tmp) / f"unpack-{stem}"
            with tarfile.open(tgz) as tar:
                tar.extractall(part, filter="data")
            inner = next(p for p in part.iterdir() if p.is_dir())  # npm tarballs hold one folder, "package"
            dest.parent.mkdir(parents=True, exist_ok=True)
            if dest.exists():
                shutil.rmtree(dest)
            shutil.move(str(inner), str(dest))


def ensure(log=print) -> list[str]:
    """Fetch whatever is missing; return what was fetched (empty when all was there)."""
    todo = missing()
    if todo:
        fetch(todo, log=log)
    return todo


if __name__ == "__main__":  # pragma: no cover
    got = ensure()
    print(f"{len(got)} package(s) fetched into {cache_dir()}" if got else f"all present in {cache_dir()}")
    sys.exit(0)
