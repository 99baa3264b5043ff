"""Smoke run: a few steps of a recipe, then checks (loss and gradient finite, weights moved, the saved
model reloads) and tokens/s and peak memory. Run it first on a new GPU box.

    accelerate launch recipes/smoke.py --config configs/qwen2.5-0.5b/zero.yaml
    python recipes/smoke.py --config configs/tiny/zero.yaml --max_steps 2       # anywhere, seconds

Any recipe key can follow (e.g. --max_steps 5, --output_dir runs/smoke-0.5b). Details: r1lite/training/smoke.py.
"""

from r1lite.errors import run_main
from r1lite.training.smoke import main

if __name__ == "__main__":
    run_main(main)
