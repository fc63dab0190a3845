"""Teachers: the models that draft, critique, revise and judge (`grounded`, `openai`, `hf`)."""
