"""R1-Zero stage: GRPO with rule-based rewards on countdown puzzles (TRL GRPOTrainer + Accelerate).

For each prompt the policy samples `num_generations` completions; each completion is scored by the
reward functions of the recipe (exact equation check, format); the advantage of a completion is its
reward minus the mean of its group (divided by the group's std when `scale_rewards: group`); the
policy takes clipped policy-gradient steps on those advantages (TRL's loss types grpo, dr_grpo,
dapo, bnpo), optionally with a KL penalty (`beta`) to the starting model.

Launch:
    accelerate launch recipes/zero.py                                   # default recipe, CPU, offline
    accelerate launch recipes/zero.py --config configs/tiny/zero.yaml   # any recipe
    accelerate launch recipes/zero.py --max_steps 5 --learning_rate 2e-5 # overrides after the recipe
    accelerate launch --config_file configs/accelerate/ddp.yaml recipes/zero.py \
        --config configs/qwen2.5-3b/zero.yaml                           # multi-GPU

Outputs in `output_dir`: the final model, checkpoints, rollouts/step-*.jsonl, eval/final.json,
run_summary.json.
"""

from r1lite.errors import run_main
from r1lite.training.zero import main

if __name__ == "__main__":
    run_main(main)
