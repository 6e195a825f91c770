import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402
from matplotlib.patches import ArrowStyle  # noqa: E402

from rnncourse import plotting  # noqa: E402


def test_style_uses_the_okabe_ito_palette_and_dashes():
    plotting.use_style()
    cycle = matplotlib.rcParams["axes.prop_cycle"].by_key()
    assert cycle["color"][:3] == [plotting.PALETTE[c] for c in ("blue", "orange", "green")]
    dashes = [str(d) for d in cycle["linestyle"]]
    assert len(set(dashes)) == len(dashes)  # distinct dash patterns: readable in grey


def test_palette_colours_are_distinct():
    colours = [to_rgb(c) for c in plotting.PALETTE.values()]
    assert len(set(colours)) == len(colours) == 8


def test_new_figure_returns_styled_axes():
    fig, axes = plotting.new_figure(ncols=2)
    assert len(axes) == 2 and fig.get_figwidth() == 6.4
    plt.close(fig)


# ------------------------------------------------------------------------ diagram primitives
def _ends(patch):
    """Start and end of a FancyArrowPatch (matplotlib keeps them in ``_posA_posB``)."""
    (x0, y0), (x1, y1) = patch._posA_posB
    return (x0, y0), (x1, y1)


def test_box_is_centred_with_its_label():
    fig, ax = plt.subplots()
    patch = plotting.box(ax, 2.0, 1.0, "$h_1$", plotting.PALETTE["orange"], width=0.8,
                         height=0.4, zorder=2)
    assert list(ax.patches) == [patch]
    assert (patch.get_x(), patch.get_y()) == (1.6, 0.8)
    assert (patch.get_width(), patch.get_height()) == (0.8, 0.4)
    assert patch.get_facecolor()[:3] == to_rgb(plotting.PALETTE["orange"])
    assert patch.get_edgecolor()[:3] == (0.0, 0.0, 0.0)
    (label,) = ax.texts
    assert label.get_text() == "$h_1$" and label.get_position() == (2.0, 1.0)
    assert label.get_ha() == "center" and label.get_va() == "center"
    assert label.get_zorder() > patch.get_zorder()                    # the label stays readable
    plt.close(fig)


def test_box_default_size_and_rounding():
    fig, ax = plt.subplots()
    patch = plotting.box(ax, 0.0, 0.0, "", "white")
    assert (patch.get_width(), patch.get_height()) == (0.62, 0.42)
    assert patch.get_boxstyle().rounding_size == 0.08
    square = plotting.box(ax, 1.0, 0.0, "", "white", rounding=None)
    assert square.get_boxstyle().rounding_size is None
    plt.close(fig)


def test_arrow_runs_from_start_to_end():
    fig, ax = plt.subplots()
    patch = plotting.arrow(ax, (0.0, 0.0), (1.0, 2.0), "grey", linestyle="--", rad=-0.5,
                           shrink=6, head_size=8)
    assert list(ax.patches) == [patch] and not ax.texts                    # no label unless asked
    assert _ends(patch) == ((0.0, 0.0), (1.0, 2.0))
    assert patch.get_edgecolor()[:3] == to_rgb("grey")
    assert patch.get_linestyle() == "--"
    assert patch.get_connectionstyle().rad == -0.5
    assert patch.shrinkA == patch.shrinkB == 6 and patch.get_mutation_scale() == 8
    assert isinstance(patch.get_arrowstyle(), ArrowStyle.CurveFilledB)  # one head, at the end
    plt.close(fig)


def test_arrow_label_sits_at_the_midpoint_plus_offset():
    fig, ax = plt.subplots()
    plotting.arrow(ax, (0.0, 0.0), (2.0, 0.0), label="$W_{hh}$", label_offset=(0.0, -0.25))
    (label,) = ax.texts
    assert label.get_text() == "$W_{hh}$" and label.get_position() == (1.0, -0.25)
    assert to_rgb(label.get_color()) == to_rgb(plotting.PALETTE["vermillion"])
    plt.close(fig)


def test_finish_diagram_blanks_the_axes():
    fig, (a, b) = plt.subplots(1, 2)
    plotting.finish_diagram(a, (-0.5, 3.0), (0.0, 2.0), "title")
    assert a.get_xlim() == (-0.5, 3.0) and a.get_ylim() == (0.0, 2.0)
    assert not a.axison and a.get_aspect() == 1.0 and a.get_title() == "title"
    plotting.finish_diagram(b, (0.0, 1.0), (0.0, 1.0), equal=False)
    assert not b.axison and b.get_aspect() == "auto" and b.get_title() == ""
    plt.close(fig)
