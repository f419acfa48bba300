"""Trains the demo's phase 2 twice, by ``twinflow fit`` (with a validation in between) and by
the benchmarks' ``module_fit.fine_tune``, and prints the largest weight difference as JSON.

Run as a subprocess by ``tests/test_benchmark_smoke.py`` (one thread; the test session's
``$TWINFLOW_CACHE``, so the judges may be cached or not):
``python tests/fit_path_probe.py OUT STEPS``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def main(out: Path, steps: int) -> None:
    from module_fit import fine_tune, objective_config
    from safetensors.torch import load_file

    from twinflow.lightning_cli import TwinFlowCLI

    cli_dir = out / "cli"
    TwinFlowCLI(args=["fit", "--config", str(ROOT / "experiments/digits_twinflow.yaml"),
                      "--trainer.default_root_dir", str(cli_dir),
                      "--trainer.max_steps", str(steps),
                      "--trainer.val_check_interval", str(steps // 2),
                      "--trainer.limit_val_batches", "1", "--trainer.logger", "false",
                      "--trainer.enable_progress_bar", "false"])
    exported = load_file(cli_dir / "export" / "model.safetensors")
    module = fine_tune(objective_config("twinflow"), steps, out / "bench", None)
    nets = {"network.": module.network, "ema.shadow.": module.ema.shadow}
    diff, compared = {}, {}
    for prefix, net in nets.items():
        state = net.state_dict()
        pairs = [(state[k[len(prefix):]], v) for k, v in exported.items() if k.startswith(prefix)]
        compared[prefix] = len(pairs)
        diff[prefix] = max((a.float() - b.float()).abs().max().item() for a, b in pairs)
    print(json.dumps({"max_abs_diff": diff, "tensors": compared, "steps": module.global_step,
                      "ema_updates": int(exported["ema.updates"])}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
