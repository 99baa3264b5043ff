"""R1-Zero -> R1 in one command: GRPO, rejection sampling, SFT, then a held-out table of all three models.

Reads one pipeline YAML (format in r1lite/r1/pipeline.py) naming a zero recipe and an sft recipe plus
overrides. Every stage writes into its own folder under output_dir and is skipped when done, so
the same command resumes a stopped pipeline.

    accelerate launch recipes/pipeline.py                                        # configs/smollm2-135m/pipeline.yaml
    accelerate launch recipes/pipeline.py --config configs/tiny/pipeline.yaml    # smoke run, seconds
    accelerate launch --config_file configs/accelerate/ddp.yaml recipes/pipeline.py \
        --config configs/qwen2.5-3b/pipeline.yaml
"""

from r1lite.errors import run_main
from r1lite.r1.pipeline import main

if __name__ == "__main__":
    run_main(main)
