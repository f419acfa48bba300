"""The TwinFlow objective: plain torch, independent of Lightning and of any backbone."""

from twinflow.objective.guidance import GuidedVelocity
from twinflow.objective.joint import NetInput, joint_call
from twinflow.objective.metric import LossMetric
from twinflow.objective.objective import LossTerms, TwinFlowObjective
from twinflow.objective.partition import BatchPartition, PartitionedTimes
from twinflow.objective.rcgm import RCGMTarget
from twinflow.objective.time_sampler import TimeSampler
from twinflow.objective.twin_terms import RectifyTarget, one_step_sample

__all__ = [
    "BatchPartition",
    "GuidedVelocity",
    "LossMetric",
    "LossTerms",
    "NetInput",
    "PartitionedTimes",
    "RCGMTarget",
    "RectifyTarget",
    "TimeSampler",
    "TwinFlowObjective",
    "joint_call",
    "one_step_sample",
]
