"""Run one r1lite stage under ``accelerate launch`` with a probe of what the optimizer steps (test harness).

    accelerate launch --config_file ENGINE.yaml tests/engines/launch_stage.py zero ARGS... [--then sft ARGS...]

Each stage writes ``<output_dir>/probe-rank<R>.json``: the dtypes of the tensors the optimizer steps, the
share of their elements that the first optimizer step changed, and the engine accelerate ran.

Accelerate 1.15 turns FSDP and DeepSpeed on only for GPU-family devices: on a CPU-only machine an
FSDP config becomes plain MULTI_CPU data parallelism and a DeepSpeed config a single process. Torch's
FSDP2 and DeepSpeed's CPU accelerator both run on the CPU over gloo, so when the launcher asked for
one of them this harness lifts those gates (below) and everything else (the plugins, ``fully_shard``,
the ZeRO optimizers, mixed precision, state dicts, TRL's and r1lite's engine paths) runs unchanged.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from transformers import TrainerCallback

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def lift_fsdp_cpu_gate() -> None:
    from accelerate import state
    from accelerate.utils import DistributedType

    original = state.AcceleratorState.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        plugin = kwargs.get("fsdp_plugin")
        if plugin is not None and self.distributed_type == DistributedType.MULTI_CPU:
            self.distributed_type = DistributedType.FSDP
            if self._mixed_precision != "no":
                plugin.set_mixed_precision(self._mixed_precision)
            self.fsdp_plugin = plugin
            state.PartialState._shared_state["distributed_type"] = self.distributed_type

    state.AcceleratorState.__init__ = init


def lift_deepspeed_cpu_gate() -> None:
    """DeepSpeed on the CPU: accelerate 1.15 gives a launch without a GPU no distributed backend (so one
    process, not DEEPSPEED), and transformers refuses ``bf16`` without a GPU. DeepSpeed's own CPU
    accelerator speaks gloo; these two gates are all that stands between it and the run."""
    import transformers.training_args
    from accelerate import state
    from accelerate.utils import DistributedType

    original = state.PartialState._prepare_backend

    def prepare_backend(self, cpu=False, sagemaker_dp=False, backend=None):
        chosen, kind = original(self, cpu, sagemaker_dp, backend)
        if kind == DistributedType.NO and not cpu and int(os.environ.get("LOCAL_RANK", -1)) != -1:
            return "gloo", DistributedType.MULTI_CPU  # then accelerate's DeepSpeed branch makes it DEEPSPEED
        return chosen, kind

    state.PartialState._prepare_backend = prepare_backend
    transformers.training_args.is_torch_bf16_gpu_available = lambda: True


from r1lite.training.smoke import stepped_tensors  # noqa: E402  the smoke check reads the same tensors


class MasterWeightProbe(TrainerCallback):
    """Records the stepped tensors' dtypes and the share of their elements changed by the first step."""

    def __init__(self):
        self.before = None
        self.optimizer = None
        self.report: dict = {}

    def on_step_begin(self, args, state, control, optimizer=None, **kwargs):
        if self.before is None and optimizer is not None:
            self.optimizer = optimizer
            self.before = [t.detach().clone() for t in stepped_tensors(optimizer)]

    def on_step_end(self, args, state, control, **kwargs):
        if self.report or self.before is None:
            return
        after = stepped_tensors(self.optimizer)
        changed = sum(int((a.detach() != b).sum()) for a, b in zip(after, self.before, strict=True))
        total = sum(b.numel() for b in self.before)
        from accelerate import PartialState

        self.report = {
            "dtypes": sorted({str(t.dtype) for t in after}),
            "changed_fraction": changed / max(total, 1),
            "elements": total,
            "distributed_type": PartialState().distributed_type.name,
            "num_processes": PartialState().num_processes,
        }
        rank = PartialState().process_index
        Path(args.output_dir).mkdir(parents=True, exist_ok=True)
        (Path(args.output_dir) / f"probe-rank{rank}.json").write_text(json.dumps(self.report))


def main() -> None:
    """``zero|sft ARGS... [--then zero|sft ARGS...]``: stages run one after the other in the same
    processes, as ``recipes/pipeline.py`` runs them."""
    if os.environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true":
        lift_fsdp_cpu_gate()
    if os.environ.get("ACCELERATE_USE_DEEPSPEED", "false").lower() == "true":
        lift_deepspeed_cpu_gate()
    from r1lite.r1 import sft
    from r1lite.training import zero

    argv = sys.argv[1:]
    while argv:
        stage, argv = argv[0], argv[1:]
        end = argv.index("--then") if "--then" in argv else len(argv)
        stage_args, argv = argv[:end], argv[end + 1 :]
        (zero.main if stage == "zero" else sft.main)(stage_args, callbacks=[MasterWeightProbe()])


if __name__ == "__main__":
    main()
