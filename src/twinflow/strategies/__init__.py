"""Training strategies: DeepSpeed with TwinFlow's skipped steps, and its CPU variant."""

from twinflow.strategies.deepspeed import CPUDeepSpeedStrategy, TwinFlowDeepSpeedStrategy

__all__ = ["CPUDeepSpeedStrategy", "TwinFlowDeepSpeedStrategy"]
