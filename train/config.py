"""The options of a training run: one dataclass, written to config.json and into checkpoints.

Presets fill the recipe options the user did not set.  "d2l" reproduces the d2l chapter the
toolkit started from; "dcgan" is the recipe of the DCGAN paper as pytorch/examples runs it;
"small-data", the default, is the one that scored best on the 1,741 Pokémon sprites
(docs/results.md): the paper's optimiser at batch 64 with horizontal flips, DiffAugment and an
EMA of the generator.
"""
from __future__ import annotations

import math
import reprlib
import secrets
from dataclasses import asdict, dataclass, fields

from dcgan.data.decode import FITS

from .augment import parse_policy
from .errors import TrainError
from .model import CHANNELS, IMAGE_SIZES, INIT_STYLES, ModelConfig

_PLAIN = {"flip": False, "ema": False, "diffaugment": ""}
PRESETS: dict[str, dict] = {
    "d2l": {"lr": 0.005, "batch_size": 256, "epochs": 20, "init": "d2l", **_PLAIN},
    "dcgan": {"lr": 2e-4, "batch_size": 128, "epochs": 20, "init": "dcgan", **_PLAIN},
    "small-data": {"lr": 2e-4, "batch_size": 64, "epochs": 340, "init": "dcgan", "flip": True,
                   "ema": True, "diffaugment": "color,translation,cutout"},
}
DEFAULT_PRESET = "small-data"
# Run folders of earlier versions call the d2l recipe "seed", as preset and as init; they
# resume under today's name.
FORMER_NAMES = {"preset": {"seed": "d2l"}, "init": {"seed": "d2l"}}

# Options that fix the shape of the networks: a resumed run must keep them.
ARCHITECTURE = ("latent_dim", "g_width", "d_width", "image_size", "channels")
# Options that change how the machine computes, not what is learned: free to change on resume.
RUNTIME = ("epochs", "device", "amp", "channels_last", "compile", "sync_bn", "threads",
           "log_every", "data", "eval_every", "eval_samples")
# Written into config.json beside the options, to be read by people; never read back.
INFORMATIVE = ("resolved_device", "world_size", "alpha")
SEEDS = (0, 2**32 - 1)


def _is_colour(v) -> bool:
    return (isinstance(v, (list, tuple)) and len(v) == 3
            and all(type(c) is int and 0 <= c <= 255 for c in v))


# What each field's annotation admits, strictly: a stored 2.5, true or 1e400 is no epoch count.
KINDS = {
    "int": ("a whole number", lambda v: type(v) is int),
    "float": ("a finite number",
              lambda v: type(v) in (int, float) and math.isfinite(v)),
    "str": ("a string", lambda v: type(v) is str),
    "bool": ("true or false", lambda v: type(v) is bool),
    "bool | None": ("true, false or null", lambda v: v is None or type(v) is bool),
    "tuple[int, int, int]": ("three whole numbers 0-255 (R, G, B)", _is_colour),
}


def flag(name: str) -> str:
    """The command-line option of a field: batch_size -> --batch-size."""
    return "--" + name.replace("_", "-")


def shown(value) -> str:
    """A value as JSON spells it, shortened: an error line quotes it, whatever its size."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    return reprlib.repr(value)


@dataclass
class TrainConfig:
    """Everything a run was started with, after presets and defaults are applied."""

    # data (how the uint8 array was made; the loop itself only sees the array)
    data: str = "pokemon"
    fit: str = "stretch"
    background: tuple[int, int, int] = (255, 255, 255)
    # recipe (the defaults here are the d2l preset's; the command line starts from DEFAULT_PRESET)
    preset: str = "d2l"
    epochs: int = 20
    batch_size: int = 256  # global: split evenly over the ranks of a distributed run
    lr: float = 0.005
    beta1: float = 0.5
    beta2: float = 0.999
    init: str = "d2l"
    flip: bool = False
    diffaugment: str = ""  # DiffAugment policy, e.g. "color,translation,cutout" ("": off)
    ema: bool = False
    ema_decay: float = 0.999
    seed: int = 0
    # architecture
    latent_dim: int = 100
    g_width: int = 64
    d_width: int = 64
    image_size: int = 64  # one of model.IMAGE_SIZES
    channels: int = 3  # 1 grey, 3 RGB, 4 RGBA (premultiplied alpha; --background unused)
    # machine
    device: str = "auto"
    amp: bool = False
    channels_last: bool | None = None  # None: the faster layout for the device (see loop.py)
    compile: bool = False
    sync_bn: bool = False
    threads: int = 0  # torch CPU threads; 0 leaves torch's default
    log_every: int = 20  # optimizer steps between reads of the loss accumulators
    # evaluation: multi-scale SWD against the training images every eval_every epochs (0: never)
    eval_every: int = 10
    eval_samples: int = 1024

    def __post_init__(self) -> None:
        """Validate every option, whether it came from the command line or a stored file."""
        for f in fields(self):
            what, fits = KINDS[f.type]
            if not fits(getattr(self, f.name)):
                raise ValueError(f"{flag(f.name)} must be {what}, got {shown(getattr(self, f.name))}")
        self.background = tuple(self.background)
        for name, choices in (("preset", PRESETS), ("init", INIT_STYLES), ("fit", FITS),
                              ("image_size", IMAGE_SIZES), ("channels", CHANNELS)):
            if getattr(self, name) not in choices:
                raise ValueError(f"{flag(name)} must be one of {', '.join(map(str, choices))}, "
                                 f"got {shown(getattr(self, name))}")
        for name, low in (("threads", 0), ("eval_every", 0), ("epochs", 1), ("batch_size", 1),
                          ("log_every", 1), ("eval_samples", 1), ("seed", SEEDS[0])):
            if getattr(self, name) < low:
                raise ValueError(f"{flag(name)} must be at least {low}, got {getattr(self, name)}")
        if self.seed > SEEDS[1]:
            raise ValueError(f"--seed must be at most {SEEDS[1]}, got {self.seed}")
        if not self.lr > 0:
            raise ValueError(f"--lr must be a positive number, got {self.lr}")
        for name in ("beta1", "beta2", "ema_decay"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{flag(name)} must be in [0, 1), got {getattr(self, name)}")
        self.diffaugment = ",".join(parse_policy(self.diffaugment))  # validates, normalises
        self.model  # validates the architecture options

    @property
    def augment_policy(self) -> tuple[str, ...]:
        """The DiffAugment ops in order, read from the policy normalised at construction."""
        return tuple(self.diffaugment.split(",")) if self.diffaugment else ()

    @property
    def model(self) -> ModelConfig:
        return ModelConfig(latent_dim=self.latent_dim, g_width=self.g_width, d_width=self.d_width,
                           channels=self.channels, image_size=self.image_size)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["background"] = list(self.background)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        if not isinstance(d, dict):
            raise TypeError(f"expected a mapping of options, got {type(d).__name__}")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names - set(INFORMATIVE))
        if unknown:
            raise ValueError(f"unknown option {shown(unknown[0])}")
        values = {k: v for k, v in d.items() if k in names}
        for name, renamed in FORMER_NAMES.items():
            if isinstance(values.get(name), str):
                values[name] = renamed.get(values[name], values[name])
        return cls(**values)

    @classmethod
    def from_options(cls, preset: str = DEFAULT_PRESET, **options) -> "TrainConfig":
        """Preset values first, then every option that is not None."""
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}")
        values = dict(PRESETS[preset])
        values.update({k: v for k, v in options.items() if v is not None})
        return cls(preset=preset, **values)


def stored_config(values, source) -> TrainConfig:
    """The options a run stored in ``source`` (its config.json, its checkpoint), validated as
    the command line's are; TrainError naming the option and the file otherwise."""
    try:
        return TrainConfig.from_dict(values)
    except (TypeError, ValueError) as e:
        raise TrainError(f"{source}: {e}") from None


def identity_difference(a: TrainConfig, b: TrainConfig) -> str | None:
    """The first option that a resumed run may not change on which ``a`` and ``b`` differ,
    as "--seed 5 vs 3"; None when they describe the same run."""
    one, other = a.to_dict(), b.to_dict()
    for name in one:
        if name not in RUNTIME and one[name] != other[name]:
            return f"{flag(name)} {shown(one[name])} vs {shown(other[name])}"
    return None


def resolve_config(values: dict, given: set[str], stored: TrainConfig | None) -> TrainConfig:
    """The options of a run.  New run (``stored`` None): the preset, then ``values``, the
    training options (None where not set; a random seed when none is given).  Resumed run:
    the ``stored`` options, of which only the machine-side ones among the ``given`` names may
    change; changing the architecture or the recipe is refused.  Raises TrainError."""
    if stored is None:
        if values.get("seed") is None:
            values = {**values, "seed": secrets.randbits(31)}
        try:
            cfg = TrainConfig.from_options(**values)
        except ValueError as e:
            raise TrainError(str(e)) from None
        if cfg.channels == 4 and "background" in given:
            raise TrainError("--background applies to --channels 1 and 3; a --channels 4 run "
                             "keeps transparency, padding included, as alpha")
        return cfg
    current = stored.to_dict()
    names = sorted(given & set(values))
    # The options given, normalised as the run's stored ones were (a DiffAugment policy
    # "none" is stored as "", spaces dropped; a colour as a list): compare values, not spellings.
    try:
        asked = TrainConfig.from_dict({**current, **{n: values[n] for n in names}})
    except (TypeError, ValueError) as e:
        raise TrainError(str(e)) from None
    new_values = asked.to_dict()
    for name in names:
        new, old = new_values[name], current[name]
        if name not in RUNTIME and new != old:
            what = "architecture" if name in ARCHITECTURE else "training recipe"
            if name == "diffaugment":
                new, old = new or "none", old or "none"
            raise TrainError(f"cannot resume with {flag(name)} {new}: the run was trained with {old} "
                             f"(the {what} of a run is fixed; start a new run with another --out)")
    return asked
