"""Package discovery for the three source roots (everything else is in pyproject.toml).

``adapters/`` installs as ``sdinterp.adapters`` and ``plugins/`` as ``sdinterp.plugins``, so the
folder layout shows the architecture while the import names stay under ``sdinterp``. Every
package below each root is found automatically: a new subpackage needs no edit here.
"""

from setuptools import find_packages, setup

ROOTS = {"sdinterp": "sdinterp", "sdinterp.adapters": "adapters", "sdinterp.plugins": "plugins"}

packages = []
for name, folder in ROOTS.items():
    packages.append(name)
    packages.extend(f"{name}.{sub}" for sub in find_packages(folder))

setup(package_dir=ROOTS, packages=packages)
