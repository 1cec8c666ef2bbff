"""Matplotlib settings of the gallery's figures (``reset_modules`` of sphinx-gallery).

The figures are drawn at their size (12 x 4.5 inches, 100 dpi: 1200 pixels wide) on
pages without side bars, where the article may use the page's width
(``_static/gallery.css``); a 12-point base font keeps axis labels and ticks readable
there.
"""

import matplotlib


def readable_figures(gallery_conf, fname, when):
    """Reset matplotlib before each example, with a 12-point base font."""
    matplotlib.rcdefaults()
    matplotlib.rcParams.update({"font.size": 12, "figure.dpi": 100, "savefig.dpi": 100})
