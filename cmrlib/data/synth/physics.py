"""``synth-physics``: a physics-simulated, 3D-rendered Something-Something stand-in (issue 18).

Each clip is a MuJoCo scene built as MJCF in code: a textured table (a box, so things can fall off it) above a
floor, a directional light plus a head light, a free camera at a random viewpoint with a slight drift or
jitter, the object(s) of the action (box, sphere, cylinder or capsule of random size, colour and texture), 0-2
static distractors and a kinematic "hand" (a mocap capsule) that pushes, pokes, carries or lets go. The world is
stepped with ``mujoco.mj_step`` (2 ms steps, 1.6 s of simulated time per clip whatever the number of frames)
and each frame is rendered off-screen with ``mujoco.Renderer``; the masks come from its segmentation mode.

Four classes are exact time-reversal pairs (the backward class is its forward partner's clip reversed, like in
synth-something); the others need physics (dropping, falling off the table, rolling against sliding, toppling,
a collision, pretending to push). Start positions are drawn symmetrically (the side, the direction) and colours,
textures and the camera independently of the class.

Rendering backend: ``MUJOCO_GL`` as set by the user, else the first of ``BACKENDS`` whose library is found
(egl: libEGL, e.g. Mesa's software EGL; osmesa: libOSMesa), set before ``mujoco`` is imported. ``backend_problem()``
says what is missing (None when rendering works); rendering raises ``RuntimeError`` with that text.
"""
from __future__ import annotations

import ctypes.util
import os
import sys

import numpy as np

from cmrlib.data.synth.draw import Benchmark, _hsv, paired_classes

#: MUJOCO_GL values tried in order when the variable is unset, with the library each one needs.
BACKENDS = (("egl", "EGL"), ("osmesa", "OSMesa"))
DURATION, TIMESTEP = 1.6, 0.002  # simulated seconds per clip, physics step
#: Distractors (an inclusive range of static objects) and the camera's motion (probabilities of a slow drift, a
#: jitter and a still camera), the same at every profile, as issue 18 asks. The profiles' ``scene`` settings
#: (no distractors and a still camera at cpu) tune synth-something's 2D clutter and do not apply here.
CLUTTER = {"distractors": (0, 2), "camera": (0.5, 0.3, 0.2)}
#: Contacts of things that roll: with rolling friction, so that a rolled object slows down on the table.
ROLLING = 'condim="6" friction="1 0.005 0.003"'

PHYSICS_PAIRS = [
    ("Pushing something from left to right", "Pushing something from right to left"),
    ("Putting something on top of something", "Taking something off of something"),
    ("Moving something towards the camera", "Moving something away from the camera"),
    ("Covering something with something", "Uncovering something"),
    ("Dropping something", None),
    ("Pushing something so that it falls off the table", None),
    ("Letting something roll along a flat surface", None),
    ("Pushing something so that it slightly moves", None),
    ("Poking something so that it falls over", None),
    ("Something colliding with something and both are being deflected", None),
    ("Pretending to push something", None),
]

_STATE: dict = {}


def _choose_backend() -> None:
    """Set MUJOCO_GL (unless the user did) to the first backend whose library is found. mujoco reads it when
    it is imported, so this runs when this module is imported (cmrlib.data.synth imports it), before mujoco."""
    if "MUJOCO_GL" in os.environ or "mujoco" in sys.modules:
        return
    found = [name for name, lib in BACKENDS if ctypes.util.find_library(lib)]
    if not found:
        _STATE["problem"] = ("no off-screen OpenGL backend for MuJoCo: neither libEGL (MUJOCO_GL=egl, e.g. "
                             "apt install libegl1 libgl1-mesa-dri) nor libOSMesa (MUJOCO_GL=osmesa, apt install "
                             "libosmesa6) was found")
        return
    os.environ["MUJOCO_GL"] = found[0]
    os.environ.setdefault("PYOPENGL_PLATFORM", found[0])


def _load():
    """Import mujoco with a working off-screen backend; cache the module or the problem."""
    if "module" in _STATE or "problem" in _STATE:
        return _STATE.get("module")
    if "mujoco" in sys.modules and "MUJOCO_GL" not in os.environ:
        _STATE["problem"] = ("mujoco was imported before cmrlib.data.synth chose an off-screen backend (it would use "
                             "a window); import cmrlib.data.synth first or set MUJOCO_GL=egl (or osmesa)")
        return None
    chosen = os.environ.get("MUJOCO_GL")
    try:
        import mujoco
    except ImportError as error:
        _STATE["problem"] = f"synth-physics needs the mujoco package (pip install mujoco): {error}"
        return None
    try:
        model = mujoco.MjModel.from_xml_string("<mujoco><worldbody><geom size='1 1 .1' type='plane'/></worldbody></mujoco>")
        mujoco.Renderer(model, 8, 8).close()
    except Exception as error:  # noqa: BLE001 (any GL failure means: no backend)
        _STATE["problem"] = (f"MuJoCo cannot render off-screen with MUJOCO_GL={chosen!r} ({type(error).__name__}: "
                             f"{error}); install Mesa's EGL (libegl1, libgl1-mesa-dri) or OSMesa (libosmesa6) "
                             "or set MUJOCO_GL")
        return None
    _STATE["module"], _STATE["backend"] = mujoco, chosen
    return mujoco


def backend_problem() -> str | None:
    """None when MuJoCo renders off-screen here, else what is missing."""
    _load()
    return _STATE.get("problem")


def backend() -> str | None:
    """The MUJOCO_GL backend in use (None when none works)."""
    _load()
    return _STATE.get("backend")


# ---------------------------------------------------------------------------------------------------------
# Scene description
# ---------------------------------------------------------------------------------------------------------

def _rgba(rgb, a=1.0) -> str:
    return " ".join(f"{c:.4f}" for c in (*np.asarray(rgb, float), a))


def _vec(v) -> str:
    return " ".join(f"{float(c):.5f}" for c in v)


def _quat_yaw(yaw: float, lying: bool = False) -> np.ndarray:
    """A rotation about z by ``yaw``, after turning the z axis onto x when ``lying``."""
    qz = np.array([np.cos(yaw / 2), 0, 0, np.sin(yaw / 2)])
    if not lying:
        return qz
    qy = np.array([np.cos(np.pi / 4), 0, np.sin(np.pi / 4), 0])
    w1, x1, y1, z1 = qz
    w2, x2, y2, z2 = qy
    return np.array([w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2, w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
                     w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2, w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2])


class Scene:
    """MJCF pieces of one clip plus the names of the bodies that make up the masks."""

    def __init__(self, rng: np.random.Generator):
        self.rng, self.assets, self.world, self.bodies = rng, [], [], []
        self.objects, self.movers = [], []
        self.scripts = []  # callables (model, data, t) run before every physics step
        self._n = 0

    def material(self, kind: str = "cube") -> str:
        """A random textured material (flat, checker or gradient; two random colours)."""
        rng, self._n = self.rng, self._n + 1
        name = f"m{self._n}"
        a, b = _hsv(rng.random(), rng.uniform(0.3, 1), rng.uniform(0.4, 1)), _hsv(rng.random(), rng.uniform(0, 1), rng.uniform(0.2, 1))
        builtin = ["flat", "checker", "gradient"][rng.integers(3)]
        extra = f' mark="random" random="{rng.uniform(0.02, 0.2):.3f}" markrgb="{_vec(b)}"' if builtin == "flat" else ""
        self.assets.append(f'<texture name="t{name}" type="{kind}" builtin="{builtin}" rgb1="{_vec(a)}" '
                           f'rgb2="{_vec(b)}" width="64" height="64"{extra}/>')
        repeat = f' texrepeat="{rng.integers(2, 8)} {rng.integers(2, 8)}"' if kind == "2d" else ""
        self.assets.append(f'<material name="{name}" texture="t{name}"{repeat} specular="{rng.uniform(0, 0.5):.3f}"/>')
        return name

    def shape(self, shapes=("box", "sphere", "cylinder", "capsule"), scale=1.0, tall=False):
        """A random (type, size string, rest height, half width); cylinders and capsules stand upright."""
        rng = self.rng
        kind = shapes[rng.integers(len(shapes))]
        r = rng.uniform(0.035, 0.055) * scale
        h = r * (rng.uniform(2.2, 3.0) if tall else rng.uniform(0.7, 1.4))
        if kind == "box":
            w = r * rng.uniform(0.7, 1.0)
            return kind, _vec((r, w, h)), h, max(r, w)
        if kind == "sphere":
            return kind, _vec((r,)), r, r
        if kind == "capsule":
            h = max(h - r, 0.2 * r)
            return kind, _vec((r, h)), h + r, r
        return kind, _vec((r, h)), h, r

    def body(self, name: str, geom: str, pos, quat=(1, 0, 0, 0), free=True, mocap=False, obj=False, moves=True):
        joint = "<freejoint/>" if free and not mocap else ""
        mocap_attr = ' mocap="true"' if mocap else ""
        self.bodies.append(f'<body name="{name}" pos="{_vec(pos)}" quat="{_vec(quat)}"{mocap_attr}>{joint}{geom}</body>')
        (self.objects.append(name) if obj else None)
        (self.movers.append(name) if moves else None)

    def geom(self, kind: str, size: str, pos=(0, 0, 0), quat=(1, 0, 0, 0), material=None, extra="") -> str:
        material = material or self.material()
        friction = "" if "friction" in extra else 'friction="1 0.005 0.0001" '
        return (f'<geom type="{kind}" size="{size}" pos="{_vec(pos)}" quat="{_vec(quat)}" material="{material}" '
                f'{friction}{extra}/>')

    def xml(self, size: int) -> str:
        return (f'<mujoco><option timestep="{TIMESTEP}"/><visual><global offwidth="{size}" offheight="{size}"/>'
                f'<quality shadowsize="1024"/><headlight ambient="{_vec([self.rng.uniform(0.15, 0.4)] * 3)}" '
                f'diffuse="{_vec([self.rng.uniform(0.1, 0.3)] * 3)}"/></visual>'
                f'<asset>{"".join(self.assets)}</asset><worldbody>{"".join(self.world)}{"".join(self.bodies)}'
                '</worldbody></mujoco>')


def _smooth(s):
    s = np.clip(s, 0.0, 1.0)
    return s * s * (3 - 2 * s)


def _hand(scene: Scene, path, radius=None):
    """The mocap "hand" (a finger capsule) whose tip follows ``path(t) -> xyz``."""
    rng = scene.rng
    radius = radius or rng.uniform(0.015, 0.022)
    half = rng.uniform(0.08, 0.12)
    colour = _hsv(rng.uniform(0.02, 0.1), rng.uniform(0.3, 0.6), rng.uniform(0.5, 0.95)) if rng.random() < 0.7 \
        else _hsv(rng.random(), rng.uniform(0.2, 0.8), rng.uniform(0.3, 0.9))
    scene.assets.append(f'<material name="hand" rgba="{_rgba(colour)}"/>')
    scene.body("hand", f'<geom type="capsule" size="{radius:.4f} {half:.4f}" pos="0 0 {half + radius:.4f}" '
                       'material="hand"/>', path(0.0), mocap=True, free=False)

    def drive(model, data, t):
        data.mocap_pos[model.body_mocapid[model.body("hand").id]] = path(t)
    scene.scripts.append(drive)
    return radius


def _window(rng):
    """Start and end (seconds) of the hand's action; symmetric under time reversal."""
    return DURATION * rng.uniform(0.08, 0.2), DURATION * rng.uniform(0.8, 0.92)


def _build(kind: str, scene: Scene):
    """Add the class's bodies, hand and scripts to ``scene``."""
    rng = scene.rng
    t0, t1 = _window(rng)
    prog = lambda t: _smooth((t - t0) / (t1 - t0))  # noqa: E731
    side = rng.choice([-1.0, 1.0])
    rng.uniform(-0.4, 0.4)  # an unused draw, kept so that VERSION 1 clips stay as recorded
    y = rng.uniform(-0.08, 0.08)
    shapes_upright = ("box", "cylinder")

    if kind in ("Pushing something from left to right", "Pushing something so that it falls off the table",
                "Pushing something so that it slightly moves", "Pretending to push something",
                "Letting something roll along a flat surface"):
        rolling = kind == "Letting something roll along a flat surface"
        if kind in ("Pushing something so that it slightly moves",) or rolling:
            # a cylinder or capsule lying down: pushed across its axis it rolls on, along its axis it slides
            shape, size, _, _ = scene.shape(("cylinder", "capsule"))
            r, length = (float(v) for v in size.split())
            length = length + r * (shape == "capsule")
            axis_x = not rolling  # the axis points along the push when sliding
            quat = _quat_yaw(0.0 if axis_x else np.pi / 2, lying=True)
            rest, half_push = r, (length if axis_x else r)
            direction = side
            start_x = -direction * rng.uniform(0.14, 0.22)
            distance = rng.uniform(0.08, 0.14) if not rolling else rng.uniform(0.03, 0.05)
            scene.body("object", scene.geom(shape, size, extra=ROLLING), (start_x, y, rest), quat, obj=True)
        else:
            shape, size, rest, half_push = scene.shape(shapes_upright)
            quat = _quat_yaw(0.0)
            direction = 1.0 if kind == "Pushing something from left to right" else side
            if kind == "Pushing something from left to right":
                start_x, distance = rng.uniform(-0.2, -0.08), rng.uniform(0.18, 0.26)
            elif kind == "Pushing something so that it falls off the table":
                edge = scene.table[0]
                start_x = direction * (edge - half_push - rng.uniform(0.04, 0.1))
                distance = edge - direction * start_x + half_push + 0.05
            else:
                start_x, distance = direction * rng.uniform(-0.1, 0.1), 0.0
            scene.body("object", scene.geom(shape, size), (start_x, y, rest), quat, obj=True)
        hr = rng.uniform(0.015, 0.022)
        contact = start_x - direction * (half_push + hr + (0.002 if distance else 0.004))
        height = max(0.0, 0.3 * rest - hr)
        travel = distance if not rolling else distance
        if kind == "Pretending to push something":
            def path(t):  # approach, touch, withdraw
                s = _smooth((t - t0) / (t1 - t0) * 2) - _smooth((t - t0) / (t1 - t0) * 2 - 1)
                return (contact - direction * 0.12 * (1 - s), y, height)
        elif rolling:
            def path(t):  # a short fast shove, then the hand stays back
                s = _smooth((t - t0) / (0.4 * (t1 - t0)))
                return (contact - direction * 0.06 + direction * (travel + 0.06) * s, y, height)
        else:
            def path(t):
                return (contact - direction * 0.06 + direction * (travel + 0.06) * prog(t), y, height)
        _hand(scene, path, hr)

    elif kind == "Poking something so that it falls over":
        shape, size, rest, half = scene.shape(shapes_upright, tall=True)
        x0 = rng.uniform(-0.1, 0.1)
        scene.body("object", scene.geom(shape, size), (x0, y, rest), obj=True)
        hr, height = 0.016, 1.6 * rest
        direction = side

        def path(t):
            return (x0 - direction * (half + hr + 0.08) + direction * 0.12 * prog(t), y, height)
        _hand(scene, path, hr)

    elif kind == "Something colliding with something and both are being deflected":
        heading = rng.uniform(-0.5, 0.5) + (0 if side > 0 else np.pi)
        u = np.array([np.cos(heading), np.sin(heading)])
        r = rng.uniform(0.03, 0.045)
        a = -u * rng.uniform(0.16, 0.22) + np.array([0, y])
        scene.body("object", scene.geom("sphere", _vec((r,)), extra=ROLLING), (*a, r), obj=True)
        shape, size, rest, half = scene.shape(("box", "cylinder", "sphere"))
        b = u * rng.uniform(0.04, 0.08) + np.array([0, y]) + rng.uniform(-0.5, 0.5) * r * np.array([-u[1], u[0]])
        scene.body("other", scene.geom(shape, size, extra=ROLLING), (*b, rest), obj=True)
        hr = 0.018
        start = a - u * (r + hr + 0.002)

        def path(t):  # a fast shove of the sphere towards the other object
            s = _smooth((t - t0) / (0.25 * (t1 - t0)))
            return (*(start - u * 0.05 + u * 0.12 * s), max(0.0, 0.3 * r))
        _hand(scene, path, hr)

    elif kind == "Dropping something":
        shape, size, rest, half = scene.shape()
        x0 = rng.uniform(-0.12, 0.12)
        lift = rng.uniform(0.18, 0.26)
        held = np.array([x0, y, rest + lift])
        quat = _quat_yaw(rng.uniform(-0.3, 0.3))
        scene.body("object", scene.geom(shape, size), held, quat, obj=True)
        release = t0 + rng.uniform(0.1, 0.3) * (t1 - t0)

        def hold(model, data, t):
            if t < release:
                data.qpos[:3], data.qpos[3:7], data.qvel[:6] = held, quat, 0.0

        scene.scripts.append(hold)

        def path(t):
            s = _smooth((t - release) / 0.4)
            return (x0, y, rest * 2 + lift + 0.08 * s)
        _hand(scene, path)

    else:  # carried: the object is kinematic, moved by the hand holding it from above
        shape, size, rest, half = scene.shape()
        if kind == "Covering something with something":
            # the covered thing stays; the moving object is an upside-down cup over it
            inner = half + rng.uniform(0.01, 0.02)
            height = rest * 2 + rng.uniform(0.01, 0.03)
            scene.body("covered", scene.geom(shape, size), (0, y, rest), moves=False)
            wall, mat = 0.006, scene.material()
            walls = [scene.geom("box", _vec((inner + wall, inner + wall, wall)), (0, 0, height), material=mat)]
            for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                sx, sy = (wall, inner + wall) if dx else (inner + wall, wall)
                walls.append(scene.geom("box", _vec((sx, sy, height / 2)), (dx * (inner + wall / 2),
                                                                             dy * (inner + wall / 2), height / 2), material=mat))
            geom, lift = "".join(walls), height + wall
            start = np.array([side * rng.uniform(0.18, 0.26), y + rng.uniform(-0.05, 0.05), 0.005 + rest * 0.3])
            end = np.array([0.0, y, 0.001])
        elif kind == "Putting something on top of something":
            b_shape, b_size, b_rest, b_half = scene.shape(("box", "cylinder"), scale=1.4)
            bx = rng.uniform(-0.08, 0.08)
            scene.body("base", scene.geom(b_shape, b_size, (0, 0, 0)), (bx, y, b_rest), moves=False, free=False)
            geom, lift = scene.geom(shape, size, (0, 0, rest)), 2 * rest
            start = np.array([bx + side * rng.uniform(0.18, 0.24), y + rng.uniform(-0.05, 0.05), 0.0])
            end = np.array([bx, y, 2 * b_rest + 0.001])
        else:  # towards the camera: along the table, from the back to the front
            geom, lift = scene.geom(shape, size, (0, 0, rest)), 2 * rest
            x0 = rng.uniform(-0.12, 0.12)
            start = np.array([x0, rng.uniform(0.12, 0.2), 0.0])
            end = np.array([x0 + rng.uniform(-0.04, 0.04), -rng.uniform(0.12, 0.2), 0.0])
        scene.bodies.append(f'<body name="carried" mocap="true" pos="{_vec(start)}">{geom}</body>')
        scene.objects.append("carried"), scene.movers.append("carried")
        arc = rng.uniform(0.08, 0.14) if kind != "Moving something towards the camera" else 0.0
        carried = lambda t: start + (end - start) * prog(t) + np.array([0, 0, arc * np.sin(np.pi * prog(t))])  # noqa: E731

        def carry(model, data, t):
            data.mocap_pos[model.body_mocapid[model.body("carried").id]] = carried(t)
        scene.scripts.append(carry)
        _hand(scene, lambda t: carried(t) + np.array([0, 0, lift]))


def _setting(scene: Scene):
    """Table, floor, light and distractors (independent of the class)."""
    rng = scene.rng
    scene.table = (rng.uniform(0.3, 0.36), rng.uniform(0.26, 0.34))
    table_mat, floor_mat = scene.material("cube"), scene.material("2d")
    scene.world.append(f'<geom type="plane" size="3 3 0.1" pos="0 0 -0.5" material="{floor_mat}"/>')
    scene.world.append(f'<geom type="box" size="{scene.table[0]:.4f} {scene.table[1]:.4f} 0.25" pos="0 0 -0.25" '
                       f'material="{table_mat}"/>')
    azimuth, elevation = rng.uniform(0, 2 * np.pi), rng.uniform(0.5, 1.2)
    direction = -np.array([np.cos(azimuth) * np.cos(elevation), np.sin(azimuth) * np.cos(elevation), np.sin(elevation)])
    scene.world.append(f'<light directional="true" castshadow="true" pos="0 0 2" dir="{_vec(direction)}" '
                       f'diffuse="{_vec([rng.uniform(0.5, 0.9)] * 3)}"/>')
    low, high = CLUTTER["distractors"]
    for i in range(int(rng.integers(low, high + 1))):
        shape, size, rest, _ = scene.shape(scale=0.8)
        pos = (rng.choice([-1, 1]) * rng.uniform(0.25, scene.table[0] - 0.05), rng.uniform(0.18, scene.table[1] - 0.04), rest)
        scene.world.append(scene.geom(shape, size, pos, _quat_yaw(rng.uniform(0, np.pi)), extra='contype="0" conaffinity="0"'))


def _camera(rng: np.random.Generator, num_frames: int):
    """Per frame (lookat xyz, distance, azimuth, elevation) of a free camera in front of the table."""
    base = np.array([rng.uniform(-0.03, 0.03), rng.uniform(-0.03, 0.03), 0.03,
                     rng.uniform(0.95, 1.1), 90 + rng.uniform(-25, 25), -rng.uniform(25, 45)])
    pan, jitter, _ = CLUTTER["camera"]
    mode = rng.random()
    t = np.linspace(0, 1, num_frames)[:, None]
    drift = np.array([0.03, 0.03, 0.0, 0.05, 4.0, 3.0])
    if mode < pan:
        return base + t * rng.uniform(-1, 1, 6) * drift
    if mode < pan + jitter:
        return base + rng.normal(0, 0.15, (num_frames, 6)) * drift
    return np.repeat(base[None], num_frames, 0)


def _render_physics(kind: str, rng: np.random.Generator, num_frames: int, size: int, config: dict):
    """Render one clip (``config``, the sprite scene settings, does not apply: see CLUTTER)."""
    mujoco = _load()
    if mujoco is None:
        raise RuntimeError(f"synth-physics cannot render: {_STATE['problem']}")
    scene = Scene(rng)
    _setting(scene)
    _build(kind, scene)
    views = _camera(rng, num_frames)
    model = mujoco.MjModel.from_xml_string(scene.xml(size))
    data = mujoco.MjData(model)
    body_ids = lambda names: [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, n) for n in names]  # noqa: E731
    objects, movers = body_ids(scene.objects), body_ids(scene.objects + scene.movers)
    camera = mujoco.MjvCamera()
    camera.type = mujoco.mjtCamera.mjCAMERA_FREE
    frames = np.zeros((num_frames, size, size, 3), np.uint8)
    segments = np.zeros((num_frames, size, size), np.int32)
    times = np.linspace(0.0, DURATION, num_frames)
    renderer = mujoco.Renderer(model, size, size)
    try:
        for script in scene.scripts:
            script(model, data, 0.0)
        mujoco.mj_forward(model, data)
        for f, t in enumerate(times):
            while data.time < t - TIMESTEP / 2:
                for script in scene.scripts:
                    script(model, data, data.time)
                mujoco.mj_step(model, data)
            camera.lookat[:], (camera.distance, camera.azimuth, camera.elevation) = views[f, :3], views[f, 3:]
            renderer.update_scene(data, camera)
            frames[f] = renderer.render()
            renderer.enable_segmentation_rendering()
            renderer.update_scene(data, camera)
            seg = renderer.render()
            renderer.disable_segmentation_rendering()
            geom = (seg[..., 1] == int(mujoco.mjtObj.mjOBJ_GEOM)) & (seg[..., 0] >= 0)
            segments[f] = np.where(geom, model.geom_bodyid[np.clip(seg[..., 0], 0, None)], -1)
    finally:
        renderer.close()
    return frames, {"object": np.isin(segments, objects), "movers": np.isin(segments, movers)}


def _benchmark() -> Benchmark:
    classes, backward = paired_classes(PHYSICS_PAIRS)
    left, right = classes.index(PHYSICS_PAIRS[0][0]), classes.index(PHYSICS_PAIRS[0][1])
    return Benchmark("synth-physics", "temporal", tuple(classes), _render_physics, backward, {left: right, right: left},
                     "the object(s) of the action: pushed, carried, dropped, the cup that covers (visible pixels)")


# The generator's version: bump it when this benchmark's clips change (see GENERATOR_VERSIONS).
VERSION = 2  # 2: distractors and camera motion at every profile (CLUTTER)

BENCHMARK = _benchmark()
_choose_backend()
