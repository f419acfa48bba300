"""Few-, any- and multi-step sampling with one network."""

from twinflow.sampling.sampler import AnyStepSampler
from twinflow.sampling.time_grid import TimeGrid, kumaraswamy

__all__ = ["AnyStepSampler", "TimeGrid", "kumaraswamy"]
