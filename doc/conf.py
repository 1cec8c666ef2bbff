"""Sphinx configuration of the skhypergrad documentation (``make -C doc html``)."""

import os
import re
import sys
import warnings

sys.path.insert(0, os.path.abspath(".."))

import skhypergrad  # noqa: E402

project = "skhypergrad"
author = "skhypergrad developers"
copyright = "skhypergrad developers"
version = release = skhypergrad.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks = set()

templates_path = ["_templates"]
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.md5"]
html_theme = "pydata_sphinx_theme"
html_static_path = ["_static"]
html_title = f"skhypergrad {version}"
html_theme_options = {
    "navbar_end": ["navbar-icon-links"],
    "show_toc_level": 2,
}
html_show_sourcelink = False
# MathJax comes from a CDN by default; offline, point SKHYPERGRAD_MATHJAX at a local
# copy (e.g. Debian's libjs-mathjax: file:///usr/share/javascript/mathjax/MathJax.js?config=TeX-AMS_CHTML)
if os.environ.get("SKHYPERGRAD_MATHJAX"):
    mathjax_path = os.environ["SKHYPERGRAD_MATHJAX"]

# the examples run without a display; their warnings are not the documentation's
os.environ.setdefault("MPLBACKEND", "Agg")
warnings.filterwarnings("ignore", category=UserWarning,
                        message="Matplotlib is currently using agg")

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "show_memory": False,
    "doc_module": ("skhypergrad",),
    "reference_url": {"skhypergrad": None},
    "backreferences_dir": None,
}


# Methods inherited from scikit-learn (``score``, ``set_*_request``) carry
# references to scikit-learn's own documentation labels and glossary, which do
# not exist here: show their text instead of a broken link.
_SKLEARN_ROLE = re.compile(r":(?:ref|term):`([^`<]*?)\s*(?:<([^>`]*)>)?`")


def _plain_sklearn_refs(app, what, name, obj, options, lines):
    module = getattr(obj, "__module__", None) or ""
    if module.startswith("sklearn"):
        lines[:] = [_SKLEARN_ROLE.sub(lambda m: m.group(1) or m.group(2), line)
                    for line in lines]


def setup(app):
    app.connect("autodoc-process-docstring", _plain_sklearn_refs)
