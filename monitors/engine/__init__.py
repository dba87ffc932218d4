"""Running rules: the engine (`facade.Engine`) and its parts, the episode lifecycle, the
stepper that drives an engine through time, and `build_engine`, the one composition."""

from monitors.engine.facade import BedSummary, Engine
from monitors.engine.factory import build_engine
from monitors.engine.stepper import Stepper

__all__ = ["BedSummary", "Engine", "Stepper", "build_engine"]
