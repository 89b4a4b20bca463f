"""Contribution charts as inline SVG, for the HTML footprint report (pcf) and the node dashboard (exchange).

It lives at the exchange layer because both may import it (exchange may not import pcf). matplotlib renders
offline with text drawn as paths, so the SVG needs no font, and the XML prolog, DOCTYPE and metadata (which name
w3.org / purl.org URLs) are stripped: the markup is embedded in a page that must render with no network access.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from functools import lru_cache, wraps
from pathlib import Path

from lca_models.i18n import gettext as _

_PROLOG = re.compile(r"^.*?(?=<svg\b)", re.S)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)
_COMMENTS = re.compile(r"\s*<!--.*?-->", re.S)  # matplotlib repeats each label as a comment
_LABEL_CHARS = 48
# Chinese labels (a user's own, or the report's language) need a CJK font: Debian's fonts-noto-cjk where installed
_CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "WenQuanYi Zen Hei", "Microsoft YaHei")


@lru_cache(maxsize=1)
def _font_families() -> list[str]:
    """DejaVu Sans, then the first CJK font installed: matplotlib falls back glyph by glyph along the list."""
    from matplotlib import font_manager

    installed = {font.name for font in font_manager.fontManager.ttflist}
    if not installed & set(_CJK_FONTS):  # matplotlib's font cache may predate the font's installation
        for path in font_manager.findSystemFonts():
            if "CJK" in Path(path).name or "wqy" in Path(path).name.lower():
                font_manager.fontManager.addfont(path)
        installed = {font.name for font in font_manager.fontManager.ttflist}
    return ["DejaVu Sans", *[name for name in _CJK_FONTS if name in installed][:1]]


def _with_fonts(draw: Callable[..., str]) -> Callable[..., str]:
    @wraps(draw)
    def drawn(*args, **kwargs) -> str:
        from matplotlib import rc_context

        with rc_context({"font.family": _font_families()}):
            return draw(*args, **kwargs)
    return drawn


def _short(label: str) -> str:
    return label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "…"


@_with_fonts
def contribution_svg(items: Sequence[tuple[str, Decimal | float]], unit_label: str, top: int = 10) -> str:
    """A horizontal bar chart of the largest contributors (by absolute value), the rest summed as one bar.

    `items` are (label, value) pairs, e.g. a footprint's contributions in kgCO2e per declared unit; negative
    values (credits) are drawn to the left in another colour. Returns `<svg ...>...</svg>` markup.
    """
    from matplotlib.figure import Figure  # imported here: only pages that draw a chart pay for matplotlib

    ranked = sorted(((label, float(value)) for label, value in items), key=lambda item: -abs(item[1]))
    shown, rest = ranked[:top], ranked[top:]
    if rest:
        shown.append((_("{count} other contributors").format(count=len(rest)), sum(value for _label, value in rest)))
    shown.reverse()  # largest at the top
    height = 0.9 + 0.36 * max(len(shown), 1)
    figure = Figure(figsize=(8.0, height), dpi=96)
    axes = figure.add_subplot()
    labels = [_short(label) for label, _value in shown]
    values = [value for _label, value in shown]
    colours = ["#2a7f62" if value >= 0 else "#c0504d" for value in values]
    axes.barh(range(len(values)), values, color=colours)
    axes.set_yticks(range(len(values)), labels=labels, fontsize=8)
    axes.axvline(0, color="#444444", linewidth=0.8)
    axes.set_xlabel(unit_label, fontsize=9)
    axes.tick_params(axis="x", labelsize=8)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    return _inline_svg(figure, _("contribution chart"))


@_with_fonts
def distribution_svg(bins: Sequence[tuple[float, float, int]], interval: tuple[float, float], deterministic: float,
                     unit_label: str) -> str:
    """A histogram of Monte Carlo draws (`bins`: from, to, count) with the 95 % interval shaded and the deterministic
    result as a line. Returns `<svg ...>...</svg>` markup."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8.0, 2.8), dpi=96)
    axes = figure.add_subplot()
    axes.axvspan(*interval, color="#dbe9e3", label=_("interval (2.5-97.5 %)"))
    axes.bar([a for a, _b, _n in bins], [n for _a, _b, n in bins], width=[b - a for a, b, _n in bins], align="edge",
             color="#2a7f62", label=_("draws"))
    axes.axvline(deterministic, color="#c0504d", linewidth=1.5, label=_("deterministic result"))
    axes.set_xlabel(unit_label, fontsize=9)
    axes.set_ylabel(_("draws"), fontsize=9)
    axes.tick_params(labelsize=8)
    axes.legend(fontsize=8, frameon=False)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    return _inline_svg(figure, _("Monte Carlo distribution"))


def _inline_svg(figure, label: str) -> str:
    """The figure as SVG markup to embed: no prolog, metadata or comments (they name URLs), text as paths."""
    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    svg = _COMMENTS.sub("", _METADATA.sub("", _PROLOG.sub("", buffer.getvalue(), count=1)))
    return svg.replace("<svg ", f'<svg role="img" aria-label="{label}" class="chart" ', 1)
