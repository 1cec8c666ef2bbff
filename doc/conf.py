"""Sphinx configuration of the skhypergrad documentation (``make -C doc html``)."""

import importlib.util
import os
import re
import sys
import warnings

from docutils import nodes

sys.path.insert(0, os.path.abspath(".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # _gallery_style

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
autodoc_default_options = {"members": True}
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
    # the gallery's pages (auto_examples/, not listed) have no side bars: their figures
    # get the page's width
    "secondary_sidebar_items": {pattern: ["page-toc"]
                                for pattern in ("*", "generated/*", "modules/*")},
}
html_sidebars = {"auto_examples/**": []}
html_css_files = ["gallery.css"]
html_show_sourcelink = False
# MathJax is shipped with the pages (the docs extra installs sphinx-mathjax-offline,
# which copies MathJax 3 into _static/mathjax), so the math renders offline. Without
# that package the pages load MathJax from its CDN; SKHYPERGRAD_MATHJAX overrides both
# with any other copy (a URL or a path relative to _static).
if importlib.util.find_spec("sphinx-mathjax-offline") is not None:
    extensions.append("sphinx-mathjax-offline")
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
    "reset_modules": ("_gallery_style.readable_figures",),
    "image_srcset": ["2x"],
    "matplotlib_animations": False,
    "show_memory": False,
    "doc_module": ("skhypergrad",),
    "reference_url": {"skhypergrad": None},
    "backreferences_dir": None,
    # no doc/sg_execution_times.rst: building the docs leaves the sources untouched
    "write_computation_times": False,
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


# Cross-references to scikit-learn, NumPy, SciPy and joblib objects link to their API
# pages.
# Intersphinx would need their inventories from the network, which the builds (CI
# included) do not have; the pages' addresses follow one pattern per project.
_EXTERNAL_API = {
    "sklearn": "https://scikit-learn.org/stable/modules/generated/{page}.html",
    "numpy": "https://numpy.org/doc/stable/reference/generated/{page}.html",
    "scipy": "https://docs.scipy.org/doc/scipy/reference/generated/{page}.html",
    "joblib": "https://joblib.readthedocs.io/en/stable/generated/{page}.html",
}


def _external_api_link(app, env, node, contnode):
    """``missing-reference`` handler: a reference node to the external API page, or None."""
    target = node.get("reftarget", "")
    root = target.split(".")[0]
    if node.get("refdomain") != "py" or root not in _EXTERNAL_API or "." not in target:
        return None
    parts = target.split(".")
    # a method or attribute (``sklearn.linear_model.Lasso.fit``) lives on its class's page
    owner = next((i for i in range(1, len(parts)) if parts[i][:1].isupper()), None)
    page = ".".join(parts[:owner + 1]) if owner is not None else target
    uri = _EXTERNAL_API[root].format(page=page)
    if page != target:
        uri += "#" + target
    reference = nodes.reference("", "", internal=False, refuri=uri, reftitle=target)
    reference += contnode
    return reference


def setup(app):
    app.connect("autodoc-process-docstring", _plain_sklearn_refs)
    app.connect("missing-reference", _external_api_link)
