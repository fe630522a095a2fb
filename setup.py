"""The one compiled module: RadioDiff's log tokeniser (src/radiovae/runlog/_scan.c).

Everything else is in pyproject.toml. ``optional``: without a C compiler radiovae still installs,
and reads RadioDiff logs with the plain per-line parser (slower; it says so once on stderr).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("radiovae.runlog._scan", ["src/radiovae/runlog/_scan.c"],
                             extra_compile_args=["-O2"], optional=True)])
