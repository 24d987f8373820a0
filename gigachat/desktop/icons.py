"""The tray icon image: a coloured rounded badge with a speech bubble, drawn with Pillow.

`draw_icon(color, size)` is also used by the packaging scripts to build the app .ico.
"""

from __future__ import annotations

from PIL import Image, ImageDraw

# One colour per state (the tray and the installer use the same values).
COLORS = {
    "grey": "#8a8f98",  # no credentials
    "yellow": "#f2b705",  # getting a token, or requests waiting in the queue
    "green": "#21a038",  # token valid (Sber green)
    "red": "#d9342b",  # error
}
APP_ICON_COLOR = COLORS["green"]
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
