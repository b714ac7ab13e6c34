"""Draw the client's button icons with Pillow into glozi/assets/*.png.

Run from the repository root: ``python tools/make_icons.py``. Each icon is
drawn at 4x and scaled down, which gives smooth edges without an SVG renderer.
"""

from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 20
SCALE = 4
WHITE = (242, 243, 245, 255)
ASSETS = Path(__file__).resolve().parent.parent / "glozi" / "assets"


def _canvas() -> tuple[Image.Image, ImageDraw.ImageDraw, int]:
    big = SIZE * SCALE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    return image, ImageDraw.Draw(image), big


def _finish(image: Image.Image, name: str, size: int = SIZE) -> None:
    image.resize((size, size), Image.LANCZOS).save(ASSETS / f"{name}.png", optimize=True)


def reload_icon() -> None:
    image, draw, big = _canvas()
    w = big // 9
    box = (big * 0.16, big * 0.16, big * 0.84, big * 0.84)
    draw.arc(box, start=20, end=262, fill=WHITE, width=w)
    top = big * 0.16 + w / 2
    draw.polygon(
        [(big * 0.46, top - big * 0.15), (big * 0.7, top), (big * 0.46, top + big * 0.15)],
        fill=WHITE,
    )
    _finish(image, "reload")


def plus_icon() -> None:
    image, draw, big = _canvas()
    w = big // 8
    mid = big // 2
    draw.rounded_rectangle((mid - w // 2, big * 0.14, mid + w // 2, big * 0.86), radius=w // 2, fill=WHITE)
    draw.rounded_rectangle((big * 0.14, mid - w // 2, big * 0.86, mid + w // 2), radius=w // 2, fill=WHITE)
    _finish(image, "create")


def question_icon() -> None:
    image, draw, big = _canvas()
    w = big // 9
    draw.arc((big * 0.28, big * 0.1, big * 0.72, big * 0.52), start=180, end=60, fill=WHITE, width=w)
    draw.line(
        (big * 0.62, big * 0.47, big * 0.5, big * 0.56, big * 0.5, big * 0.68),
        fill=WHITE,
        width=w,
        joint="curve",
    )
    r = w * 0.75
    draw.ellipse((big * 0.5 - r, big * 0.84 - r, big * 0.5 + r, big * 0.84 + r), fill=WHITE)
    _finish(image, "info")


def check_icon() -> None:
    image, draw, big = _canvas()
    w = big // 7
    draw.line(
        (big * 0.16, big * 0.52, big * 0.4, big * 0.76, big * 0.86, big * 0.26),
        fill=WHITE,
        width=w,
        joint="curve",
    )
    _finish(image, "check")


def lock_icon() -> None:
    image, draw, big = _canvas()
    gold = (240, 178, 50, 255)
    w = big // 10
    draw.arc((big * 0.28, big * 0.1, big * 0.72, big * 0.6), start=180, end=360, fill=gold, width=w)
    draw.line((big * 0.28 + w / 2, big * 0.35, big * 0.28 + w / 2, big * 0.48), fill=gold, width=w)
    draw.line((big * 0.72 - w / 2, big * 0.35, big * 0.72 - w / 2, big * 0.48), fill=gold, width=w)
    draw.rounded_rectangle((big * 0.18, big * 0.44, big * 0.82, big * 0.9), radius=big // 12, fill=gold)
    hole = (30, 31, 34, 255)
    draw.ellipse((big * 0.44, big * 0.56, big * 0.56, big * 0.68), fill=hole)
    draw.rectangle((big * 0.475, big * 0.62, big * 0.525, big * 0.78), fill=hole)
    _finish(image, "lock", 16)


def send_icon() -> None:
    image, draw, big = _canvas()
    draw.polygon(
        [(big * 0.12, big * 0.14), (big * 0.9, big * 0.5), (big * 0.12, big * 0.86), (big * 0.24, big * 0.5)],
        fill=WHITE,
    )
    _finish(image, "send")


def leave_icon() -> None:
    image, draw, big = _canvas()
    w = big // 10
    draw.line(
        (big * 0.45, big * 0.14, big * 0.16, big * 0.14, big * 0.16, big * 0.86, big * 0.45, big * 0.86),
        fill=WHITE,
        width=w,
        joint="curve",
    )
    draw.line((big * 0.38, big * 0.5, big * 0.8, big * 0.5), fill=WHITE, width=w)
    draw.polygon([(big * 0.66, big * 0.3), (big * 0.9, big * 0.5), (big * 0.66, big * 0.7)], fill=WHITE)
    _finish(image, "leave")


def app_icon() -> None:
    big = 64 * SCALE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle(
        (big * 0.06, big * 0.08, big * 0.94, big * 0.74), radius=big // 6, fill=(88, 101, 242, 255)
    )
    draw.polygon(
        [(big * 0.24, big * 0.7), (big * 0.24, big * 0.94), (big * 0.46, big * 0.72)],
        fill=(88, 101, 242, 255),
    )
    for x in (0.3, 0.5, 0.7):
        r = big * 0.06
        draw.ellipse((big * x - r, big * 0.41 - r, big * x + r, big * 0.41 + r), fill=WHITE)
    image.resize((64, 64), Image.LANCZOS).save(ASSETS / "app.png", optimize=True)
    image.resize((36, 36), Image.LANCZOS).save(ASSETS / "logo.png", optimize=True)


def main() -> None:
    ASSETS.mkdir(exist_ok=True)
    for draw_icon in (
        reload_icon,
        plus_icon,
        question_icon,
        check_icon,
        lock_icon,
        send_icon,
        leave_icon,
        app_icon,
    ):
        draw_icon()


if __name__ == "__main__":
    main()
