"""Packaging beyond pyproject.toml: the grammar, the templates and the shipped op libraries
stay at the top of the repository (one source of truth each) and travel in the wheel as the
package data sedsl/grammars, sedsl/templates and sedsl/lib (read by sedsl/resources.py)."""

from setuptools import find_packages, setup

DATA = {"sedsl.grammars": "grammars", "sedsl.templates": "templates", "sedsl.lib": "spaces/lib"}

setup(
    packages=find_packages(include=["sedsl", "sedsl.*"]) + list(DATA),
    package_dir=DATA,
    package_data={"sedsl": ["py.typed"], **{name: ["*"] for name in DATA}},
)
