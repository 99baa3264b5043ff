"""Smoke run: a few steps of a recipe, then checks (loss and gradient finite, the optimizer steps fp32 weights,
at least half of the trained weights' elements moved, the saved model reloads, r1lite's log-probs equal TRL's)
and tokens/s, peak memory and TRL's importance-sampling metrics (with vLLM). Run it first on a new GPU box.

    accelerate launch recipes/smoke.py --config configs/qwen2.5-0.5b/zero.yaml
    python recipes/smoke.py --config configs/tiny/zero.yaml --max_steps 2       # anywhere, seconds

Any recipe key can follow (e.g. --max_steps 5, --output_dir runs/smoke-0.5b), and --logp_atol X (the log-prob
comparison's absolute tolerance). Details: r1lite/training/smoke.py.
"""

from r1lite.errors import run_main
from r1lite.training.smoke import main

if __name__ == "__main__":
    run_main(main)
