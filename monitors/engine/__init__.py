"""Running rules: the engine (`facade.Engine`) and its parts, the episode lifecycle, the
stepper that drives an engine through time, `build_engine`, the one composition, and the
snapshot an engine is restored from after a restart (`restore`)."""

from monitors.engine.facade import BedSummary, Engine
from monitors.engine.factory import build_engine
from monitors.engine.restore import BedSnapshot, InfusionAnchor, OpenEpisode, Snapshot
from monitors.engine.stepper import Stepper

__all__ = [
    "BedSnapshot",
    "BedSummary",
    "Engine",
    "InfusionAnchor",
    "OpenEpisode",
    "Snapshot",
    "Stepper",
    "build_engine",
]
