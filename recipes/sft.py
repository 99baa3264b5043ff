"""R1 stage: rejection sampling from an R1-Zero checkpoint, then SFT on the kept completions.

Sample k completions per training prompt from the R1-Zero model, keep those that the RL stage's
rule-based rewards accept and that read well (no loops, one language, real reasoning),
deduplicate, keep at most m per prompt, then fine-tune (TRL SFTTrainer, loss on completions only).

    accelerate launch recipes/sft.py                                   # default: configs/smollm2-135m/sft.yaml
    accelerate launch recipes/sft.py --config configs/tiny/sft.yaml --sample_from runs/tiny-zero
    accelerate launch --config_file configs/accelerate/zero2.yaml recipes/sft.py --config configs/qwen2.5-3b/sft.yaml
"""

from r1lite.errors import run_main
from r1lite.r1.sft import main

if __name__ == "__main__":
    run_main(main)
