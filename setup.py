"""Maps the design card's top-level folders into one import package, ``sitegate``.

gateway/ is ``sitegate`` itself; drivers/, geofence/ and buffer/ are its subpackages
``sitegate.drivers``, ``sitegate.geofence`` and ``sitegate.buffer``. Everything else is in
pyproject.toml; this file only computes the package list so new subpackages need no edit.
"""
from setuptools import find_packages, setup

ROOTS = {
    "sitegate": "gateway",
    "sitegate.drivers": "drivers",
    "sitegate.geofence": "geofence",
    "sitegate.buffer": "buffer",
}

packages, package_dir = [], {}
for name, folder in ROOTS.items():
    package_dir[name] = folder
    packages.append(name)
    packages += [f"{name}.{sub}" for sub in find_packages(folder)]

setup(
    packages=packages,
    package_dir=package_dir,
    package_data={"sitegate": ["web/static/*", "web/templates/*", "*.toml"], "sitegate.drivers": ["**/*.json"]},
    include_package_data=True,
)
