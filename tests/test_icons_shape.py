"""Issue 16, item 8: each tray state has its own shape, not only its own colour.

The state icons (check, clock, exclamation mark, key) are compared by their alpha masks and by
their lightness alone (what a colour-blind user tells apart), checked for crisp edges at 16 px,
and shown on a real X display (Xvfb): a window with every state at 16/24/32 px on a dark and a
light panel is photographed (build/screenshots/icon-states.png) and the photo must hold exactly
the drawn pixels.
"""

from __future__ import annotations

import base64
import gc
import io
import itertools

import pytest
from PIL import Image

from gigachat.desktop.icons import COLORS, GLYPHS, STATE_WORDS, state_icon
from tests import screens, xrig
from tests.conftest import wait_for

xdisplay = xrig.xdisplay  # session fixture
SIZES = (16, 24, 32)
STATES = ("green", "yellow", "red", "grey")
PANELS = ((51, 51, 51), (240, 240, 240))  # a dark and a light taskbar
GAP = 8  # px between icons in the photographed window


def mask(image: Image.Image) -> set[tuple[int, int]]:
    """The opaque pixels (alpha >= 128)."""
    alpha = image.getchannel("A")
    return {(x, y) for x in range(image.width) for y in range(image.height) if alpha.getpixel((x, y)) >= 128}


def lightness(image: Image.Image, panel: tuple[int, int, int]) -> Image.Image:
    """The icon over a panel, as the grey a colour-blind (or monochrome) eye gets."""
    tile = Image.new("RGBA", image.size, panel + (255,))
    tile.alpha_composite(image)
    return tile.convert("L")


def test_every_state_has_its_own_glyph_named_in_words():
    assert set(GLYPHS) == set(COLORS) == set(STATES)
    assert sorted(GLYPHS.values()) == ["check", "clock", "exclamation", "key"]
    assert {STATE_WORDS[g] for g in GLYPHS.values()} == {"готов", "ожидание", "ошибка", "нет ключа"}


@pytest.mark.parametrize("size", SIZES)
def test_alpha_masks_differ_between_every_two_states(size):
    """Shape, not colour: every pair of states differs in at least 4% of the icon's pixels."""
    masks = {state: mask(state_icon(state, size)) for state in STATES}
    for one, other in itertools.combinations(STATES, 2):
        differ = len(masks[one] ^ masks[other])
        assert differ >= 0.04 * size * size, (one, other, size, differ)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("panel", PANELS)
def test_states_differ_in_lightness_alone(size, panel):
    """Greyscale on a dark and a light panel: the glyphs still set the states apart."""
    greys = {state: lightness(state_icon(state, size), panel) for state in STATES}
    for one, other in itertools.combinations(STATES, 2):
        a, b = greys[one].tobytes(), greys[other].tobytes()
        far = sum(1 for p, q in zip(a, b, strict=True) if abs(p - q) >= 60)
        assert far >= 0.05 * size * size, (one, other, size, panel, far)


def blurred_inside(image: Image.Image) -> int:
    """Half-transparent pixels inside the disc (its own anti-aliased rim left out)."""
    size, radius = image.width, image.width / 2 - 2
    return sum(1 for x in range(size) for y in range(size)
               if (x + 0.5 - size / 2) ** 2 + (y + 0.5 - size / 2) ** 2 < radius ** 2
               and 40 <= image.getpixel((x, y))[3] <= 215)


@pytest.mark.parametrize("state", STATES)
def test_sixteen_pixels_are_crisp(state):
    """At 16 px the glyph sits on whole pixels (nothing half-transparent inside the disc),
    it has real ink (a glyph, not a dot), and the disc is in the state colour."""
    image = state_icon(state, 16)
    assert image.size == (16, 16) and image.mode == "RGBA"
    assert blurred_inside(image) == 0
    ink = (40, 40, 40) if state == "yellow" else (255, 255, 255)
    inked = sum(1 for p in image.get_flattened_data()
                if p[3] == 255 and all(abs(c - i) <= 30 for c, i in zip(p[:3], ink, strict=True)))
    assert inked >= 10, inked
    body = image.getpixel((8, 1))  # the disc's top edge
    rgb = tuple(int(COLORS[state][i:i + 2], 16) for i in (1, 3, 5))
    assert body[3] >= 200 and all(abs(a - b) <= 40 for a, b in zip(body[:3], rgb, strict=True))


@pytest.mark.parametrize("size", (24, 32))
@pytest.mark.parametrize("state", STATES)
def test_larger_sizes_blur_only_slanted_edges(state, size):
    image = state_icon(state, size)
    assert blurred_inside(image) <= 0.15 * size * size


def sheet() -> tuple[Image.Image, dict[tuple[str, int, int], tuple[int, int]]]:
    """All states at all sizes on both panels, and where each icon sits."""
    width = GAP + len(STATES) * (sum(SIZES) + GAP * len(SIZES)) + GAP
    row = max(SIZES) + 2 * GAP
    image = Image.new("RGB", (width, row * len(PANELS)))
    places: dict[tuple[str, int, int], tuple[int, int]] = {}
    for p, panel in enumerate(PANELS):
        image.paste(panel, (0, p * row, width, (p + 1) * row))
        x = GAP
        for state in STATES:
            for size in SIZES:
                y = p * row + GAP + (max(SIZES) - size) // 2
                tile = Image.new("RGBA", (size, size), panel + (255,))
                tile.alpha_composite(state_icon(state, size))
                image.paste(tile.convert("RGB"), (x, y))
                places[(state, size, p)] = (x, y)
                x += size + GAP
    return image, places


def test_icon_states_on_a_real_display_are_photographed_pixel_exact(xdisplay, monkeypatch):
    """A Tk window on Xvfb shows every state at 16/24/32 px; the screenshot holds them exactly."""
    import tkinter as tk

    monkeypatch.setenv("DISPLAY", xdisplay.name)
    image, places = sheet()
    data = io.BytesIO()
    image.save(data, format="PNG")
    root = tk.Tk()
    try:
        root.overrideredirect(True)
        root.geometry(f"{image.width}x{image.height}+40+60")
        photo = tk.PhotoImage(data=base64.b64encode(data.getvalue()).decode())
        tk.Label(root, image=photo, borderwidth=0, highlightthickness=0).pack()

        def shown():
            root.update()
            shot = xdisplay.screenshot().crop((40, 60, 40 + image.width, 60 + image.height))
            return shot if shot.tobytes() == image.tobytes() else None
        shot = wait_for(shown, timeout=60, interval=0.1)
    finally:
        root.destroy()
        photo = root = None
        gc.collect()  # free the Tcl interpreter in the thread that made it
    path = screens.save(shot.resize((shot.width * 4, shot.height * 4), Image.Resampling.NEAREST),
                        "icon-states-x4")
    screens.save(shot, "icon-states")
    assert path.exists()
    for (state, size, panel), (x, y) in places.items():
        tile = shot.crop((x, y, x + size, y + size))
        expected = lightness(state_icon(state, size), PANELS[panel])
        assert tile.convert("L").tobytes() == expected.tobytes(), (state, size, panel)
