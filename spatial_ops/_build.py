"""What every front-end's loader says about the build: setup.py's record of
it, and the command that rebuilds spatial_ops (for a framework installed or
changed since)."""

import sys
from pathlib import Path


def build_info():
    """spatial_ops._build_info (written by setup.py), or None if it is not built."""
    try:
        from . import _build_info
    except ImportError:
        return None
    return _build_info


def rebuild_command():
    """The command that rebuilds spatial_ops from the checkout it was built from."""
    source_dir = getattr(build_info(), "SOURCE_DIR", None)
    if source_dir and (Path(source_dir) / "setup.py").is_file():
        source = source_dir
    else:
        source = "<spatial_ops source checkout>"
    return f"{sys.executable} -m pip install --no-deps --force-reinstall {source}"
