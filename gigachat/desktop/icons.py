"""Icons drawn with Pillow: the app icon (a badge with a speech bubble) and the tray's state icons.

`draw_icon(color, size)` is the app icon (the packaging scripts build the .ico and .png from it).
`state_icon(color, size)` is the tray icon of a state: the state's colour and, for colour-blind
users, its own shape cut into the badge: a check (ready), a clock (waiting), an exclamation
mark (error), a key (no key). Drawn for the exact size on a pixel grid, so it stays crisp at 16 px.
"""

from __future__ import annotations

from PIL import Image, ImageChops, ImageDraw

# One colour per state (the tray and the installer use the same values).
COLORS = {
    "grey": "#6e747d",  # no credentials (dark enough for a white key on a light panel)
    "yellow": "#f2b705",  # getting a token, or requests waiting in the queue
    "green": "#21a038",  # token valid (Sber green)
    "red": "#d9342b",  # error
}
APP_ICON_COLOR = COLORS["green"]
GLYPHS = {"green": "check", "yellow": "clock", "red": "exclamation", "grey": "key"}
STATE_WORDS = {"check": "готов", "clock": "ожидание", "exclamation": "ошибка", "key": "нет ключа"}
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)

_SUPERSAMPLE = 4  # draw large, then downscale: crisp edges at 16-48 px


def _rgb(color: str) -> tuple[int, int, int]:
    color = COLORS.get(color, color).lstrip("#")
    return int(color[0:2], 16), int(color[2:4], 16), int(color[4:6], 16)


def draw_icon(color: str, size: int = 64) -> Image.Image:
    """An RGBA square `size` px: a filled circle in `color` (a COLORS name or "#rrggbb")
    with a white speech bubble, so the state reads at a glance even at 16 px."""
    if size < 8:
        raise ValueError("icon size must be at least 8 px")
    big = size * _SUPERSAMPLE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    fill = _rgb(color) + (255,)
    margin = big // 32
    draw.ellipse((margin, margin, big - 1 - margin, big - 1 - margin), fill=fill)
    # Speech bubble: a rounded rectangle with a small tail at the bottom left.
    left, top, right, bottom = big * 0.24, big * 0.27, big * 0.76, big * 0.62
    white = (255, 255, 255, 255)
    draw.rounded_rectangle((left, top, right, bottom), radius=big * 0.09, fill=white)
    draw.polygon(
        [(big * 0.33, bottom - 1), (big * 0.31, big * 0.76), (big * 0.46, bottom - 1)], fill=white
    )
    # Three dots inside the bubble, in the state colour.
    dot = big * 0.045
    cy = (top + bottom) / 2
    for cx in (big * 0.37, big * 0.50, big * 0.63):
        draw.ellipse((cx - dot, cy - dot, cx + dot, cy + dot), fill=fill)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def save_ico(path: str, color: str = APP_ICON_COLOR, sizes: tuple[int, ...] = ICO_SIZES) -> None:
    """Write a multi-size Windows .ico (each size drawn separately, not just scaled)."""
    images = [draw_icon(color, s) for s in sizes]
    images[-1].save(path, format="ICO", sizes=[(s, s) for s in sizes], append_images=images[:-1])


# --- state icons ---------------------------------------------------------------------

_GRID = 8  # state icons are drawn 8x larger on the target pixel grid, then box-averaged down
_GLYPH_INK = {"yellow": (40, 40, 40, 255)}  # dark marks on yellow; white on the other colours


# The check at 16 px: the top-left corners of its 2x2 blocks, short arm then long arm.
_CHECK_16 = ((3, 7), (4, 8), (5, 9), (6, 10), (7, 9), (8, 8), (9, 7), (10, 6), (11, 5))


def _stroke(size: int) -> int:
    """The glyph's line width in target pixels: 2 px at 16, 3 px at 24 and 32, 4 at 48."""
    return max(2, round(size / 10))


def _glyph_mask(glyph: str, size: int, grow: float = 0.0) -> Image.Image:
    """The glyph as a white-on-black mask, `size * _GRID` px; coordinates are in target pixels.
    `grow` (target px) widens every part: the glyph grown by the gap is what is cut from the disc.
    At 16 px the glyph is drawn on the target grid itself (no half-covered pixels on its
    slanted lines; the check is pixel art), then scaled up to the drawing grid."""
    if size == 16:
        return _draw_glyph(glyph, size, grow, 1).resize((size * _GRID,) * 2, Image.Resampling.NEAREST)
    return _draw_glyph(glyph, size, grow, _GRID)


def _draw_glyph(glyph: str, size: int, grow: float, g: int) -> Image.Image:
    mask = Image.new("L", (size * g, size * g), 0)
    draw = ImageDraw.Draw(mask)
    w = _stroke(size)

    def line(points: list[tuple[float, float]]) -> None:
        width = (w + 2 * grow) * g
        scaled = [(x * size * g, y * size * g) for x, y in points]
        draw.line(scaled, fill=255, width=round(width), joint="curve")
        for cx, cy in (scaled[0], scaled[-1]):  # round caps
            draw.ellipse((cx - width / 2, cy - width / 2, cx + width / 2, cy + width / 2), fill=255)

    def box(x0: float, y0: float, x1: float, y1: float) -> None:  # whole target pixels: sharp edges
        draw.rectangle(((x0 - grow) * g, (y0 - grow) * g, (x1 + grow) * g - 1, (y1 + grow) * g - 1),
                       fill=255)

    mid, left = size // 2, size // 2 - w // 2
    if glyph == "check" and g == 1:  # 16 px pixel art: 2x2 blocks stepping diagonally
        for x, y in _CHECK_16:
            box(x, y, x + w, y + w)
    elif glyph == "check":
        line([(0.28, 0.52), (0.44, 0.68), (0.73, 0.34)])
    elif glyph == "clock":  # the disc is the face: an hour hand up, a minute hand to the right
        box(left, round(size * 0.22), left + w, mid + (w + 1) // 2)
        box(left, mid - w // 2, round(size * 0.75), mid - w // 2 + w)
    elif glyph == "exclamation":
        box(left, round(size * 0.19), left + w, round(size * 0.60))
        box(left, round(size * 0.68), left + w, round(size * 0.68) + w)
    elif glyph == "key":  # a ring with a hole, a shaft to the right, two teeth down
        head, hole = size * 0.17 + grow, max(1.0, size * 0.07) - grow
        cx, cy = size * 0.37, size * 0.5
        draw.ellipse([v * g for v in (cx - head, cy - head, cx + head, cy + head)], fill=255)
        if hole > 0:
            draw.ellipse([v * g for v in (cx - hole, cy - hole, cx + hole, cy + hole)], fill=0)
        top, end = round(cy - w / 2), round(size * 0.85)
        box(round(cx + head * 0.5), top, end, top + w)
        box(end - w, top, end, top + 2 * w)
        box(end - 3 * w, top, end - 2 * w, top + w + max(1, w - 1))
    else:
        raise ValueError(f"unknown glyph {glyph!r}")
    return mask


def state_icon(color: str, size: int = 32) -> Image.Image:
    """The tray icon of a state, `size` px RGBA: a disc in the state colour with its glyph,
    set apart from the disc by a thin transparent gap (so the shape is in the alpha channel too)."""
    if size < 16:
        raise ValueError("state icons are drawn from 16 px up")
    glyph = GLYPHS.get(color, "check")
    g = _GRID
    big = size * g
    disc = Image.new("L", (big, big), 0)
    ImageDraw.Draw(disc).ellipse((g // 2, g // 2, big - 1 - g // 2, big - 1 - g // 2), fill=255)
    mark = _glyph_mask(glyph, size)
    cut = _glyph_mask(glyph, size, grow=max(1, size // 24))  # the gap: 1 px, 2 px from 48 px
    alpha = ImageChops.lighter(ImageChops.subtract(disc, cut), ImageChops.multiply(disc, mark))
    image = Image.new("RGBA", (big, big), _rgb(color) + (255,))
    image.paste(_GLYPH_INK.get(color, (255, 255, 255, 255)), mask=mark)
    image.putalpha(alpha)
    small = image.reduce(g)
    small.info["state"] = color  # lets a backend redraw it for its exact slot size
    return small
