"""Training strategies: DeepSpeed with TwinFlow's skipped steps (and on CPU), FSDP2."""

from twinflow.strategies.deepspeed import CPUDeepSpeedStrategy, TwinFlowDeepSpeedStrategy
from twinflow.strategies.model_parallel import FSDP2Strategy

__all__ = ["CPUDeepSpeedStrategy", "FSDP2Strategy", "TwinFlowDeepSpeedStrategy"]
