"""Drawing primitives shared by the synthetic benchmarks: textured sprites, backgrounds, the camera, the
scene clutter and the compositor, all vectorised numpy over (frames, height, width). Coordinates are pixels;
per-frame parameters are arrays of shape (F,). ``Benchmark`` is the record each benchmark module exports."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

#: synth-something's and synth-longrange's scene difficulty (spec default; a profile's "scene" entry overrides
#: some of it; ``object_scale`` scales the main object or the flashing markers).
SCENE: dict = {
    "distractors": (1, 2),          # inclusive range of the number of randomly moving distractors
    "camera": (0.5, 0.3, 0.2),      # probabilities of a slow pan, a jitter and a still camera
    "background_contrast": 1.0,     # scale of the background texture around its mean colour
    "object_scale": 1.0,            # scale of the main object's radius
    "kinetics_object_scale": 1.0,   # scale of synth-kinetics' object (which takes no other scene setting)
    "longrange_flash": (0.15, 0.22),  # synth-longrange: range of each flash's length, as a fraction of the clip
    "longrange_marker_scale": 1.0,  # synth-longrange: scale of the markers' radius (on top of object_scale)
}

#: What ``render_clip`` can return as the mask.
MASKS = ("object", "movers")

Array = np.ndarray


# ---------------------------------------------------------------------------------------------------------
# Drawing primitives. Coordinates are pixels; per-frame parameters are arrays of shape (F,).
# ---------------------------------------------------------------------------------------------------------

def _sdf(shape: str, u: Array, v: Array) -> Array:
    """Approximate signed distance (negative inside) of a unit-radius shape at local coordinates (u, v)."""
    au, av_ = np.abs(u), np.abs(v)
    if shape == "disc":
        return np.sqrt(u * u + v * v) - 1.0
    if shape == "ring":
        return np.abs(np.sqrt(u * u + v * v) - 0.7) - 0.3
    if shape == "square":
        return np.maximum(au, av_) - 0.8
    if shape == "diamond":
        return (au + av_ - 1.0) * 0.7071
    if shape == "triangle":  # apex towards -v
        return np.maximum(v - 0.5, 0.866 * au - 0.5 * v - 0.5)
    if shape == "bar":
        return np.maximum(au - 1.0, av_ - 0.4)
    if shape == "cross":
        return np.minimum(np.maximum(au - 1.0, av_ - 0.33), np.maximum(au - 0.33, av_ - 1.0))
    if shape == "pacman":  # a disc with a wedge cut out towards +u
        r = np.sqrt(u * u + v * v)
        return np.maximum(r - 1.0, (0.6 - np.abs(np.arctan2(v, u))) * r)
    if shape == "halfdisc":
        return np.maximum(np.sqrt(u * u + (v - 0.35) ** 2) - 1.0, v - 0.35)
    if shape == "lshape":
        stem = np.maximum(np.abs(u + 0.5) - 0.3, av_ - 0.9)
        foot = np.maximum(au - 0.8, np.abs(v - 0.6) - 0.3)
        return np.minimum(stem, foot)
    raise ValueError(f"unknown shape {shape!r}")


def _texture(kind: str, u: Array, v: Array, freq: float, phase: float) -> Array:
    """Texture value in [0, 1] in object-local coordinates, so it moves, scales and turns with the object."""
    if kind == "plain":
        return np.zeros_like(u)
    if kind == "stripes":
        return 0.5 + 0.5 * np.sin(freq * u + phase)
    if kind == "checker":
        return (np.sin(freq * u + phase) * np.sin(freq * v) > 0).astype(np.float32)
    if kind == "gradient":
        return np.clip(0.5 + 0.5 * u, 0.0, 1.0)
    if kind == "dots":
        return (np.sin(freq * u + phase) * np.sin(freq * v) > 0.45).astype(np.float32)
    raise ValueError(f"unknown texture {kind!r}")


OBJECT_SHAPES = ("triangle", "bar", "pacman", "lshape", "square", "cross", "halfdisc", "diamond")
TEXTURES = ("plain", "stripes", "checker", "gradient", "dots")


@dataclass(eq=False)
class Sprite:
    """A textured shape. Position, radius, angle and the horizontal stretch vary per frame (arrays (F,))."""
    shape: str
    x: Array
    y: Array
    radius: Array
    angle: Array
    colours: Array  # (2, 3) floats in [0, 1], mixed by the texture
    texture: str = "plain"
    freq: float = 6.0
    phase: float = 0.0
    stretch: Array | float = 1.0  # scale of the local u axis (folding), anchored at u = -1
    moving: bool = True  # False for a prop that stays put in the world

    def window(self) -> int:
        """Side of the square pixel window that holds the sprite in every frame (shapes fit in radius 1.25)."""
        return 2 * int(np.ceil(1.25 * float(np.max(self.radius)) + 1.0)) + 1

    def draw(self, canvas: "Canvas", visible: Array | None = None) -> Array:
        """Alpha-blend onto ``canvas`` in place; return the sprite's coverage mask (F,H,W) bool.

        Only a window around the sprite is computed in each frame: the work is (F, w, w), not (F, H, W)."""
        num_frames, w = len(self.x), self.window()
        f = lambda a: np.broadcast_to(np.asarray(a, np.float32), (num_frames,))  # noqa: E731
        x, y, radius, stretch = f(self.x), f(self.y), f(self.radius), f(self.stretch)
        # Screen position of each window's first pixel; world coordinates of the window's pixel centres.
        left = np.clip(np.floor(x - canvas.shift[:, 0]).astype(int) - w // 2, -canvas.pad, canvas.size + canvas.pad - w)
        top = np.clip(np.floor(y - canvas.shift[:, 1]).astype(int) - w // 2, -canvas.pad, canvas.size + canvas.pad - w)
        offsets = np.arange(w)
        dx = (left[:, None] + offsets + 0.5 + canvas.shift[:, 0, None] - x[:, None])[:, None, :]  # (F,1,w)
        dy = (top[:, None] + offsets + 0.5 + canvas.shift[:, 1, None] - y[:, None])[:, :, None]  # (F,w,1)
        angle = f(self.angle)[:, None, None]
        cos, sin, r = np.cos(angle), np.sin(angle), radius[:, None, None]
        u = (cos * dx + sin * dy) / r
        v = (-sin * dx + cos * dy) / r
        stretch = stretch[:, None, None]
        u = (u + 1.0) / stretch - 1.0  # the object extends from u = -1 to u = 2 * stretch - 1
        alpha = np.clip(0.5 - _sdf(self.shape, u, v) * r * np.minimum(stretch, 1.0), 0.0, 1.0)
        if visible is not None:
            alpha = alpha * np.asarray(visible, np.float32)[:, None, None]
        tex = _texture(self.texture, u, v, self.freq, self.phase)[..., None]
        colour = self.colours[0] + (self.colours[1] - self.colours[0]) * tex
        frame = np.arange(num_frames)[:, None, None]
        rows = (top[:, None] + canvas.pad + offsets)[:, :, None]
        cols = (left[:, None] + canvas.pad + offsets)[:, None, :]
        a = alpha[..., None]
        canvas.rgb[frame, rows, cols] = canvas.rgb[frame, rows, cols] * (1.0 - a) + a * colour
        mask = np.zeros(canvas.rgb.shape[:3], bool)
        mask[frame, rows, cols] = alpha >= 0.5
        return canvas.crop(mask)


@dataclass(eq=False)
class Canvas:
    """Frames being drawn, padded by ``pad`` pixels on each side so that sprite windows never fall off."""
    rgb: Array  # (F, size + 2 pad, size + 2 pad, 3) float32 in [0, 1]
    shift: Array  # (F, 2) camera displacement (x, y) in pixels: screen pixel p shows world point p + shift
    size: int
    pad: int

    def crop(self, padded: Array) -> Array:
        return padded[:, self.pad:self.pad + self.size, self.pad:self.pad + self.size]


def _hsv(h: float, s: float, v: float) -> Array:
    """One HSV colour (components in [0, 1]) as RGB."""
    i = int(h * 6.0) % 6
    f = h * 6.0 - int(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    return np.array([(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i], np.float32)


def _random_colours(rng: np.random.Generator) -> Array:
    """Two colours for a sprite: a saturated base colour and a texture colour."""
    base = _hsv(rng.random(), rng.uniform(0.5, 1.0), rng.uniform(0.55, 1.0))
    other = _hsv(rng.random(), rng.uniform(0.0, 1.0), rng.uniform(0.2, 1.0))
    return np.stack([base, other])


def _random_sprite(rng: np.random.Generator, shapes=OBJECT_SHAPES, **motion) -> Sprite:
    return Sprite(shape=str(rng.choice(shapes)), colours=_random_colours(rng), texture=str(rng.choice(TEXTURES)),
                  freq=float(rng.uniform(4.0, 9.0)), phase=float(rng.uniform(0, 2 * np.pi)), **motion)


def _value_noise(rng: np.random.Generator, n: int, cells_y: int, cells_x: int) -> Array:
    """Smooth random field (n, n) in [0, 1]: a random lattice, interpolated with a smoothstep."""
    lattice = rng.random((cells_y + 1, cells_x + 1)).astype(np.float32)

    def axis(cells):
        t = np.linspace(0, cells, n, endpoint=False, dtype=np.float32)
        i = t.astype(int)
        w = t - i
        return i, w * w * (3 - 2 * w)

    iy, wy = axis(cells_y)
    ix, wx = axis(cells_x)
    wy, wx = wy[:, None], wx[None, :]
    top = lattice[iy][:, ix] * (1 - wx) + lattice[iy][:, ix + 1] * wx
    bottom = lattice[iy + 1][:, ix] * (1 - wx) + lattice[iy + 1][:, ix + 1] * wx
    return top * (1 - wy) + bottom * wy


def _mix(value: Array, c1: Array, c2: Array) -> Array:
    return c1 + (c2 - c1) * value[..., None]


def _generic_background(rng: np.random.Generator, n: int) -> Array:
    """A label-free textured background (n, n, 3): value noise plus an oriented grating, muted colours."""
    cells = int(rng.integers(3, 9))
    value = 0.6 * _value_noise(rng, n, cells, cells)
    theta, freq = rng.uniform(0, np.pi), rng.uniform(0.15, 0.6) * 64 / n
    ys, xs = np.mgrid[0:n, 0:n].astype(np.float32)
    value += 0.4 * (0.5 + 0.5 * np.sin(freq * (np.cos(theta) * xs + np.sin(theta) * ys)))
    c1 = _hsv(rng.random(), rng.uniform(0.0, 0.5), rng.uniform(0.15, 0.6))
    c2 = _hsv(rng.random(), rng.uniform(0.0, 0.5), rng.uniform(0.4, 0.9))
    return _mix(value, c1, c2)


@dataclass
class Camera:
    """A camera path: ``shift`` (F, 2) in pixels, within +-``margin``, over a background of side
    size + 2 * margin. Screen pixel p shows world point p + shift; the background moves by whole pixels."""
    margin: int
    shift: Array  # (F, 2) camera displacement in pixels (x, y); world points move by -shift on screen

    def crop(self, background: Array, size: int) -> Array:
        """Per-frame crops (F, size, size, 3) of the background."""
        off = np.clip(np.rint(self.shift).astype(int) + self.margin, 0, 2 * self.margin)
        return np.stack([background[y:y + size, x:x + size] for x, y in off])


def _random_camera(rng: np.random.Generator, num_frames: int, size: int, odds=(0.5, 0.3, 0.2)) -> Camera:
    """A slow pan, a jitter or a still camera, with probabilities ``odds`` (by default half, a third, the rest)."""
    margin = max(2, int(np.ceil(0.15 * size)))
    kind = rng.choice(3, p=list(odds))
    if kind == 0:
        direction = rng.uniform(0, 2 * np.pi)
        length = rng.uniform(0.3, 1.0) * margin
        t = np.linspace(-0.5, 0.5, num_frames, dtype=np.float32)[:, None]
        shift = t * length * np.array([np.cos(direction), np.sin(direction)], np.float32)
    elif kind == 1:
        shift = np.clip(rng.normal(0.0, 0.6 * size / 64, (num_frames, 2)), -margin, margin).astype(np.float32)
    else:
        shift = np.zeros((num_frames, 2), np.float32)
    return Camera(margin=margin, shift=shift)


def _bounce(start: Array, velocity: Array, t: Array, low: float, high: float) -> Array:
    """Positions of a point moving at constant velocity, reflected at low and high (a triangle wave)."""
    span = high - low
    p = np.mod(start - low + velocity * t, 2 * span)
    return low + np.where(p > span, 2 * span - p, p)


def _distractors(rng: np.random.Generator, num_frames: int, size: int, count: int,
                 shapes=OBJECT_SHAPES) -> list[Sprite]:
    """Small sprites that move and turn at random, independently of the label."""
    t = np.arange(num_frames, dtype=np.float32)
    sprites = []
    for _ in range(count):
        start = rng.uniform(0.1, 0.9, 2) * size
        speed = rng.uniform(0.3, 1.2) * size / num_frames
        heading = rng.uniform(0, 2 * np.pi)
        x = _bounce(start[0], speed * np.cos(heading), t, 0.05 * size, 0.95 * size)
        y = _bounce(start[1], speed * np.sin(heading), t, 0.05 * size, 0.95 * size)
        angle = rng.uniform(0, 2 * np.pi) + rng.uniform(-0.1, 0.1) * t
        radius = np.full(num_frames, rng.uniform(0.04, 0.07) * size, np.float32)
        sprites.append(_random_sprite(rng, shapes, x=x, y=y, radius=radius, angle=angle))
    return sprites


def _progress(rng: np.random.Generator, num_frames: int) -> Array:
    """Action progress (F,) in [0, 1]: the action occupies a random window, linearly or eased in and out.

    The window's distribution is symmetric under time reversal, so reversed clips are as likely as forward."""
    start, end = rng.uniform(0.0, 0.2), rng.uniform(0.8, 1.0)
    s = np.clip((np.linspace(0, 1, num_frames, dtype=np.float32) - start) / (end - start), 0, 1)
    return s * s * (3 - 2 * s) if rng.random() < 0.5 else s


def _lerp(a, b, p):
    return a + (b - a) * p



def _clutter(rng: np.random.Generator, num_frames: int, size: int, scene: dict, shapes) -> tuple:
    """The label-free part of a synth-something or synth-longrange scene, as ``scene`` sets it: the camera,
    a textured background (contrast scaled around its mean colour) and the random distractors."""
    camera = _random_camera(rng, num_frames, size, scene["camera"])
    background = _generic_background(rng, size + 2 * camera.margin)
    if scene["background_contrast"] != 1.0:
        mean = background.mean((0, 1))
        background = mean + scene["background_contrast"] * (background - mean)
    low, high = scene["distractors"]
    distractors = _distractors(rng, num_frames, size, int(rng.integers(low, high + 1)), shapes=shapes)
    return camera, background, distractors


def _compose(size: int, camera: Camera, background: Array, sprites: list[Sprite],
             mains: list[tuple[Sprite, Array | None]], in_front: list[Sprite] = ()):
    """Draw the background, then ``sprites``, then the main objects (each with an optional per-frame
    visibility (F,) bool), then ``in_front`` (sprites the main objects pass behind), through the camera.

    Returns uint8 frames (F,H,W,3) and the visible masks (F,H,W) bool: "object" (the main objects) and
    "movers" (the main objects and every other sprite that moves in the world, i.e. not the static prop)."""
    everything = [*sprites, *(m for m, _ in mains), *in_front]
    pad = max(s.window() for s in everything)
    canvas = Canvas(np.zeros((len(camera.shift), size + 2 * pad, size + 2 * pad, 3), np.float32), camera.shift,
                    size, pad)
    canvas.crop(canvas.rgb)[:] = camera.crop(background, size)
    masks = {name: np.zeros((len(camera.shift), size, size), bool) for name in MASKS}
    layers = [(s, None, False) for s in sprites] + [(m, v, True) for m, v in mains] + [(s, None, False) for s in in_front]
    for sprite, visible, main in layers:
        cover = sprite.draw(canvas, visible)
        for name, counts in (("object", main), ("movers", main or sprite.moving)):
            if counts:
                masks[name] |= cover
            else:  # drawn on top: hides what it covers
                masks[name] &= ~cover
    frames = np.clip(np.rint(canvas.crop(canvas.rgb) * 255.0), 0, 255).astype(np.uint8)
    return frames, masks




@dataclass(frozen=True)
class Benchmark:
    """Class list and renderer of one benchmark. ``backward`` maps a class to the forward partner whose
    time-reversed clips it consists of; ``flip_map`` maps the classes that a horizontal flip changes;
    ``self_reversed`` lists the classes whose time reversal is a clip of the same class."""
    name: str
    kind: str
    classes: tuple[str, ...]
    render: Callable[[str, np.random.Generator, int, int, dict], tuple[Array, Array]]
    backward: dict[int, int]
    flip_map: dict[int, int]
    mask: str
    self_reversed: tuple[int, ...] = ()

    @property
    def reversal_pairs(self) -> list[list[int]]:
        return [[forward, backward] for backward, forward in sorted(self.backward.items())]


def paired_classes(pairs) -> tuple[list, dict]:
    """Class names in order, each forward class followed by its time reversal (if any), and {backward: forward}."""
    classes, backward = [], {}
    for forward, reverse in pairs:
        classes.append(forward)
        if reverse is not None:
            classes.append(reverse)
            backward[len(classes) - 1] = len(classes) - 2
    return classes, backward
