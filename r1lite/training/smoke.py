"""A first run on a new machine: a few steps of a recipe, then the checks that say the path works.

    accelerate launch recipes/smoke.py --config configs/qwen2.5-0.5b/zero.yaml     # on a GPU box
    python recipes/smoke.py --config configs/tiny/zero.yaml                        # anywhere, seconds

Runs the recipe for ``--max_steps`` (default 3) into ``runs/smoke`` without evaluation or
checkpoints, then checks and prints:
  1. the loss and gradient norm of every step are finite, and the gradient is not zero everywhere;
  2. the optimizer steps fp32 weights: every tensor it updates (DeepSpeed's fp32 partitions, FSDP's
     shards, else the model's parameters with ``requires_grad``, LoRA's adapters among them) is
     float32. A policy loaded in bf16 cannot take a 1e-6 update (``r1lite.models.training_dtype``);
  3. the weights moved, broadly: at least ``MOVED_SHARE`` (half) of the ELEMENTS of the trained tensors
     (the trainable parameters; LoRA's count as the weights they merge into) differ between the starting
     model and the saved one, compared at the saved model's precision (a bf16 save of untouched fp32
     weights is unmoved). Counting elements, not tensors, is what tells a working run from a pure-bf16
     one: on the tiny recipe 100% of the elements move, in fp32 at lr 1e-3 and at 1e-6 alike, while a
     pure-bf16 policy at lr 1e-6 moves 1.7% of them, yet in 14 of its 20 tensors. Where the model holds
     narrower weights than the optimizer steps (DeepSpeed under bf16, which also saves 16-bit weights), a
     save cannot show an update below bf16's step (2% of the elements change at lr 1e-6), so the share is
     the optimizer's own: its tensors copied to the CPU before the first step against them after the last;
  4. the saved model reloads with ``from_pretrained``;
  5. r1lite's log-probs equal TRL's: on this process's last generation batch of the run, the trainer's
     ``_get_per_token_logps_and_entropies`` (r1lite's training pass: shared prefixes, completion-only
     logits) and TRL's own ``GRPOTrainer._get_per_token_logps_and_entropies``, called on the same trained
     model and inputs, agree on every completion token within ``atol + rtol * |log-prob|``
     (``LOGP_TOLERANCE``; fp32: 1e-4 + 1e-5 x; bf16, autocast or 16-bit weights: 0.25 + 2^-7 x;
     ``--logp_atol X`` sets atol). Measured on the tiny recipe: 1e-6 in fp32, 1e-3 under bf16 autocast,
     0.03 with FSDP2's bf16 parameters (not yet on a GPU with a real model). Every process computes its
     own batch with the same calls (under FSDP and ZeRO-3 a forward pass is collective) and the results
     are gathered, so every process reports the same numbers;
and reports tokens/s (prompt + completion tokens over the trained steps' time), peak memory (GPU: the
largest ``max_memory_allocated`` of this process; CPU: its peak resident set), and, when the run logged
them (vLLM with importance-sampling correction), TRL's ``sampling/importance_sampling_ratio/*`` and
``sampling/sampling_logp_difference/*`` per step: how far the generator's log-probs are from the trainer's.
Any recipe key can follow, as for ``recipes/zero.py``. Exit status 1 when a check fails.
"""

from __future__ import annotations

import math
import os
import sys
from contextlib import contextmanager

import torch
from transformers import TrainerCallback
from trl import GRPOTrainer

from r1lite.models import load_full_model, peak_memory_gb
from r1lite.speedups.attention import why_not
from r1lite.speedups.completion_logits import use_triton
from r1lite.training import zero

SMOKE_DEFAULTS = [
    "--max_steps",
    "3",
    "--output_dir",
    "runs/smoke",
    "--eval_at_end",
    "false",
    "--eval_every",
    "0",
    "--save_strategy",
    "no",
    "--logging_steps",
    "1",
    "--report_to",
    "none",
]
# Share of the trained tensors' elements that must move. Measured on the tiny recipe (2 steps, lr 1e-3,
# fp32 master weights): 100.0%; at lr 1e-6 in fp32: 100.0%; a pure-bf16 policy at lr 1e-6: 1.7%.
MOVED_SHARE = 0.5
# A completion token's log-probs agree when |r1lite - TRL| <= atol + rtol * |TRL|. fp32: the tiny recipe differs
# by 1e-6 (one fp32 step at 10.8). bf16: a logit of 16 to 32 rounds to steps of 0.125, and log-probs that TRL
# returns in bf16 (16-bit weights: FSDP, ZeRO) to steps of 2^-7 of their size; measured on the tiny model:
# 1e-3 under autocast, 0.031 under FSDP2's bf16 parameters (half a bf16 step at -10.8).
LOGP_TOLERANCE = {"fp32": {"atol": 1e-4, "rtol": 1e-5}, "bf16": {"atol": 0.25, "rtol": 2**-7}}
SAMPLING_KEYS = ("sampling/importance_sampling_ratio", "sampling/sampling_logp_difference")  # TRL 1.16's names


def main(argv: list[str] | None = None) -> dict:
    """Run the smoke steps and checks; returns the report (also printed)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    argv, atol = _pop_option(argv, "--logp_atol")  # the smoke run's own key, not a recipe's
    probe = SmokeProbe()
    with probe.capturing(zero):
        summary = zero.main([*SMOKE_DEFAULTS, *argv], callbacks=[probe])  # the user's keys come last and win
    report = measure(summary, probe, logp_atol=None if atol is None else float(atol))
    if int(os.environ.get("RANK", "0")) == 0:
        print(format_report(report))
    if not all(report["checks"].values()):
        raise SystemExit(1)
    return report


def _pop_option(argv: list[str], flag: str) -> tuple[list[str], str | None]:
    """``argv`` without ``flag VALUE`` (or ``flag=VALUE``), and the value (None when absent)."""
    out, value, i = [], None, 0
    while i < len(argv):
        if argv[i] == flag and i + 1 < len(argv):
            value, i = argv[i + 1], i + 2
        elif argv[i].startswith(flag + "="):
            value, i = argv[i].split("=", 1)[1], i + 1
        else:
            out.append(argv[i])
            i += 1
    return out, value


class SmokeProbe(TrainerCallback):
    """What the checks need from inside the run: the trainer, its last training generation batch, and a
    CPU copy of the tensors the optimizer steps, taken before the first step."""

    def __init__(self):
        self.trainer = None
        self.batch: dict | None = None  # this process's last training generation batch (before TRL splits it)
        self.before: list[torch.Tensor] | None = None

    @contextmanager
    def capturing(self, zero):
        """Keep the trainer ``zero.build_trainer`` builds, and the last batch its training generates."""
        build = zero.build_trainer

        def build_and_keep(*args, **kwargs):
            self.trainer = trainer = build(*args, **kwargs)
            generate = trainer._generate_and_score_completions  # r1lite's (dynamic sampling included)

            def generate_and_keep(inputs):
                output = generate(inputs)
                if trainer.model.training:
                    self.batch = {
                        k: output[k] for k in ("prompt_ids", "prompt_mask", "completion_ids", "completion_mask")
                    }
                return output

            trainer._generate_and_score_completions = generate_and_keep
            return trainer

        zero.build_trainer = build_and_keep
        try:
            yield self
        finally:
            zero.build_trainer = build

    def on_step_begin(self, args, state, control, model=None, optimizer=None, **kwargs):
        """Before the first step, when the model holds narrower weights than the optimizer steps (DeepSpeed
        under bf16: its saved model is 16-bit too), copy the optimizer's tensors to the CPU."""
        if self.before is not None or optimizer is None:
            return
        stepped = stepped_tensors(optimizer)
        held = [_bits(p.dtype) for p in (model.parameters() if model is not None else ()) if p.is_floating_point()]
        narrower = bool(held) and min(held) < max((_bits(t.dtype) for t in stepped), default=0)
        self.before = [t.detach().to("cpu", copy=True) for t in stepped] if narrower else []


def stepped_tensors(optimizer) -> list[torch.Tensor]:
    """The tensors the optimizer updates: DeepSpeed's fp32 partitions, FSDP's local shards, or the parameters."""
    while hasattr(optimizer, "optimizer"):  # accelerate's wrapper -> (DeepSpeed's ZeRO optimizer ->) torch's
        for name in ("fp32_partitioned_groups_flat", "single_partition_of_fp32_groups"):  # ZeRO-3, ZeRO-1/2
            if getattr(optimizer, name, None):
                return list(getattr(optimizer, name))
        optimizer = optimizer.optimizer
    tensors = [p for group in optimizer.param_groups for p in group["params"]]
    return [t.to_local() if hasattr(t, "to_local") else t for t in tensors]


def trained_keys(model, keys) -> list[str]:
    """The state-dict keys of the saved full model that hold ``model``'s trainable parameters (LoRA's
    adapters map to the weight they merge into)."""
    keys = set(keys)
    found = set()
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        for prefix in ("_orig_mod.", "module.", "base_model.model."):
            name = name.removeprefix(prefix)
        if ".lora_" in name:
            name = name.split(".lora_")[0] + ".weight"
        name = name.replace(".base_layer.", ".").replace(".modules_to_save.default.", ".")
        name = name.replace("_fsdp_wrapped_module.", "").replace("_checkpoint_wrapped_module.", "")
        if name in keys:
            found.add(name)
    return sorted(found)


def moved_elements(start: dict, saved: dict, keys) -> tuple[int, int, int]:
    """(elements changed, elements, tensors with a change) over ``keys``, compared at the saved tensors' dtype."""
    changed = total = tensors = 0
    for k in keys:
        n = int((start[k].to(saved[k].dtype) != saved[k]).sum())
        changed, total, tensors = changed + n, total + saved[k].numel(), tensors + (n > 0)
    return changed, total, tensors


def measure(summary: dict, probe: SmokeProbe | None = None, logp_atol: float | None = None) -> dict:
    """Checks and speed from a finished zero run's summary (its output_dir holds the final model); with the
    run's ``probe``, also the optimizer's dtype, its own share of moved elements and the log-prob comparison."""
    steps = [h for h in summary["log_history"] if "loss" in h and "step_time" in h]
    losses = [float(h["loss"]) for h in steps]
    grads = [float(h.get("grad_norm", 0.0)) for h in steps]
    tokens = [float(h["num_tokens"]) for h in steps]
    seconds = sum(float(h["step_time"]) for h in steps[1:])  # the first step is warm-up
    rate = (tokens[-1] - tokens[0]) / seconds if len(steps) > 1 and seconds > 0 else float("nan")
    # Whole copies on this process (under ZeRO-3 a plain from_pretrained would load empty shards); the saved
    # model in the dtype it was saved in, the start compared at that precision.
    saved_model = load_full_model(summary["output_dir"], dtype="auto")
    saved_dtype = saved_model.dtype
    reloaded = saved_model.state_dict()
    start = load_full_model(summary["model"], dtype=torch.float32).state_dict()
    moved = sum(not torch.equal(start[k].to(reloaded[k].dtype), reloaded[k]) for k in start if k in reloaded)

    trainer = probe.trainer if probe is not None else None
    keys = [k for k in start if k in reloaded]
    if trainer is not None:
        keys = trained_keys(trainer.accelerator.unwrap_model(trainer.model), keys) or keys
    changed, elements, trained_changed = moved_elements(start, reloaded, keys)
    share = changed / max(elements, 1)
    report = {
        "losses": losses,
        "grad_norms": grads,
        "tokens_per_s": rate,
        "peak_memory_gb": peak_memory_gb(),
        "tensors_changed": moved,
        "tensors": len(start),
        "trained_tensors": len(keys),
        "trained_tensors_changed": trained_changed,
        "trained_elements": elements,
        "saved_dtype": str(saved_dtype).removeprefix("torch."),
        "saved_share": share,  # elements of the trained tensors that differ, start vs saved model
        "moved_share": share,  # the share the check reads
        "moved_share_from": "saved model",
        "sampling": sampling_metrics(summary["log_history"]),
    }
    checks = {
        "loss and gradient finite": all(math.isfinite(x) for x in losses + grads) and bool(steps),
        "gradient not zero": any(g > 0 for g in grads),
    }
    if trainer is not None:
        stepped = (
            stepped_tensors(trainer.optimizer)
            if trainer.optimizer is not None
            else [p for p in trainer.model.parameters() if p.requires_grad]
        )
        report["stepped_dtypes"] = sorted({str(t.dtype).removeprefix("torch.") for t in stepped})
        checks["optimizer steps fp32 weights"] = report["stepped_dtypes"] == ["float32"]
        narrower = _bits(saved_dtype) < max((_bits(t.dtype) for t in stepped), default=0)
        if narrower and probe.before:
            # A 16-bit save of fp32 master weights (DeepSpeed under bf16) cannot show an update below bf16's
            # step (at lr 1e-6 a few percent of it changes): the optimizer's own tensors, before vs after, can.
            changed = sum(int((a.detach().cpu() != b).sum()) for a, b in zip(stepped, probe.before, strict=True))
            total = sum(b.numel() for b in probe.before)
            report.update(moved_share=changed / max(total, 1), moved_share_from="optimizer", stepped_elements=total)
    checks["weights moved"] = report["moved_share"] >= MOVED_SHARE
    checks["saved model reloads"] = set(reloaded) == set(start)
    if trainer is not None:
        report.update(compare_logps(trainer, probe.batch, logp_atol))
        checks["log-probs match TRL's"] = report["logp_tokens"] > 0 and report["logp_worst"] <= 1.0
    report["checks"] = checks
    return report


def _bits(dtype: torch.dtype) -> int:
    return torch.finfo(dtype).bits if dtype.is_floating_point else 0


def sampling_metrics(log_history: list[dict]) -> dict[str, list[float]]:
    """TRL's importance-sampling metrics per logged step (present when vLLM's correction is on)."""
    out: dict[str, list[float]] = {}
    for h in log_history:
        for k, v in h.items():
            if any(s in k for s in SAMPLING_KEYS):
                out.setdefault(k, []).append(float(v))
    return out


def compare_logps(trainer, batch: dict | None, atol: float | None = None) -> dict:
    """r1lite's per-token log-probs against TRL's over the completion tokens of ``batch``, on the trainer's model.

    A token passes when ``|r1lite - TRL| <= atol + rtol * |TRL|`` (``LOGP_TOLERANCE``, by the precision the
    model computes in). Every process runs the same calls on its own batch (two passes,
    ``per_device_train_batch_size`` rows at a time) and the results are gathered: under FSDP or ZeRO-3 each
    forward is collective.
    """
    model = trainer.model
    low = trainer.accelerator.mixed_precision != "no" or any(
        p.dtype in (torch.bfloat16, torch.float16) for p in model.parameters()
    )
    precision = "bf16" if low else "fp32"
    tolerance = dict(LOGP_TOLERANCE[precision], **({} if atol is None else {"atol": atol}))
    result = {"logp_precision": precision, "logp_atol": tolerance["atol"], "logp_rtol": tolerance["rtol"]}
    if batch is None:  # no training generation ran (cannot happen after a step): nothing compared, the check fails
        return {
            **result,
            "logp_max_diff": float("inf"),
            "logp_mean_diff": float("inf"),
            "logp_worst": float("inf"),
            "logp_tokens": 0,
            "logp_path": "no generation batch",
        }
    input_ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], dim=1)  # (B, P+C)
    attention_mask = torch.cat([batch["prompt_mask"], batch["completion_mask"]], dim=1)  # (B, P+C)
    logits_to_keep = batch["completion_ids"].size(1)  # C
    rows = trainer.args.per_device_train_batch_size
    was_training = model.training
    model.eval()  # no dropout: both passes see the same function
    try:
        with torch.no_grad():
            ours, _, _ = trainer._get_per_token_logps_and_entropies(
                model, input_ids, attention_mask, logits_to_keep, batch_size=rows
            )  # (B, C)
            theirs, _, _ = GRPOTrainer._get_per_token_logps_and_entropies(
                trainer, model, input_ids, attention_mask, logits_to_keep, batch_size=rows
            )  # (B, C)
    finally:
        model.train(was_training)
    mask = batch["completion_mask"].bool()  # (B, C)
    theirs = theirs.float()[mask]  # (N,)
    diff = (ours.float()[mask] - theirs).abs()  # (N,)
    allowed = tolerance["atol"] + tolerance["rtol"] * theirs.abs()  # (N,)
    zero = torch.zeros((), device=diff.device)
    local = torch.stack(
        [
            diff.max() if diff.numel() else zero,
            diff.sum(),
            zero + diff.numel(),
            (diff / allowed).max() if diff.numel() else zero,
        ]
    ).reshape(1, 4)
    every = trainer.accelerator.gather(local.to(trainer.accelerator.device)).reshape(-1, 4)  # (processes, 4)
    tokens = float(every[:, 2].sum())
    return {
        **result,
        "logp_max_diff": float(every[:, 0].max()),
        "logp_mean_diff": float(every[:, 1].sum()) / max(tokens, 1.0),
        "logp_worst": float(every[:, 3].max()),  # the largest |diff| / allowed: the check needs <= 1
        "logp_tokens": int(tokens),
        "logp_path": _training_pass(trainer, model, input_ids.device),
    }


def _training_pass(trainer, model, device) -> str:
    """Which of r1lite's training passes the comparison ran (for the report)."""
    if trainer.args.shared_prefix and why_not(model) is None:
        return "shared prefixes"
    if trainer.args.completion_only_logits and not use_triton(device):
        return "completion-only logits"
    return "TRL's"


def format_report(report: dict) -> str:
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    lines = [
        f"smoke run on {device}",
        f"  loss per step       {', '.join(f'{x:.4g}' for x in report['losses'])}",
        f"  grad norm per step  {', '.join(f'{x:.4g}' for x in report['grad_norms'])}",
        f"  tokens/s            {report['tokens_per_s']:.0f} (prompt + completion, steps after the first)",
        f"  peak memory         {report['peak_memory_gb']:.2f} GiB "
        f"({'GPU, this process' if torch.cuda.is_available() else 'resident, this process'})",
        f"  tensors changed     {report['tensors_changed']} of {report['tensors']}",
    ]
    if "saved_share" in report:
        lines.append(
            f"  elements moved      {report['saved_share']:.2%} of {report['trained_elements']:,} in "
            f"{report['trained_tensors_changed']} of {report['trained_tensors']} trained tensors "
            f"(start vs saved model, at its {report['saved_dtype']})"
            + (f"; at least {MOVED_SHARE:.0%} needed" if report.get("moved_share_from") != "optimizer" else "")
        )
    if report.get("moved_share_from") == "optimizer":
        lines.append(
            f"  optimizer moved     {report['moved_share']:.2%} of the {report['stepped_elements']:,} elements "
            f"it steps (before the first step vs after the last; the {report['saved_dtype']} save "
            f"cannot show a smaller step); at least {MOVED_SHARE:.0%} needed"
        )
    if "stepped_dtypes" in report:
        lines.append(f"  optimizer steps     {', '.join(report['stepped_dtypes'])} tensors")
    if "logp_max_diff" in report:
        lines.append(
            f"  log-probs vs TRL    max |diff| {report['logp_max_diff']:.3g}, mean {report['logp_mean_diff']:.3g} "
            f"over {report['logp_tokens']} completion tokens; allowed {report['logp_atol']:g} + "
            f"{report['logp_rtol']:.3g} x |log-prob| ({report['logp_precision']}), worst token at "
            f"{report['logp_worst']:.2g} of it (r1lite's pass: {report['logp_path']})"
        )
    for key, values in sorted(report.get("sampling", {}).items()):
        lines.append(f"  {key:<44} {', '.join(f'{x:.4g}' for x in values)}")
    lines += [f"  [{'ok' if ok else 'FAILED'}] {name}" for name, ok in report["checks"].items()]
    return "\n".join(lines)
