import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

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
