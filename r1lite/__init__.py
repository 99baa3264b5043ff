"""r1lite: reproduce the DeepSeek R1-Zero -> R1 recipe on small open models.

Parts, by module:
  r1lite.countdown  the countdown task: exact solver, puzzle generator, held-out split, hub loader
  r1lite.prompts    prompt templates (TinyZero's base template, chat variant) with the `<think>` prefill
  r1lite.models     model loading: the offline default model, local paths, hub ids, tiny test models
The rule-based reward functions live in the sibling package `rewards`.
"""

__version__ = "0.1.0"
